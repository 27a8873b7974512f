/**
 * Node-only file helpers (`@selfpatch/checkpoint/node`, kept out of the main entry so the package
 * bundles for browsers): the run-folder lock, the CLI exit policy, reading checkpoints from disk
 * and writing files atomically
 * (temp file in the same directory, fsync, rename), so an interrupted or failed write never
 * leaves a truncated file in place of a good one.
 */
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CheckpointFormatError } from './errors.js';
import { parseCheckpoint } from './checkpoint-files.js';
import { WriteError } from './write-error.js';
import { processAlive } from './run-lock.js';

export { WriteError } from './write-error.js';
export { EXIT, describeFailure, exitCodeFor, runCliMain, wantsVerbose } from './cli-exit.js';
export { acquireRunLock, RunLockedError, type LockInfo, type RunLock } from './run-lock.js';

/**
 * @example
 * ```ts
 * writeFileAtomic('out/checkpoint.pth', bytes);
 * ```
 */
export function writeFileAtomic(path: string, data: Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'w');
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, Math.min(data.length - off, 1 << 26));
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== null) closeSync(fd);
    rmSync(tmp, { force: true });
    throw new WriteError(path, err as Error);
  }
}

const TEMP_NAME = /^\..+\.(\d+)\.\d+\.tmp$/;

/**
 * Removes the temp files {@link writeFileAtomic} leaves when its process is killed mid-write
 * (they are never renamed into place, so they hold no data anyone reads). Only files of processes
 * that are gone are removed; returns their names.
 */
export function removeStaleTemps(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    rmSync(join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

/** A checkpoint file's bytes, or a `CheckpointFormatError` naming the file when it cannot be read. */
export function readCheckpointBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new CheckpointFormatError(path, `cannot read file (${(err as Error).message})`);
  }
}

/** Reads and parses a `.pth` or safetensors file. */
export function readCheckpointFile(path: string): unknown {
  return parseCheckpoint(readCheckpointBytes(path), path);
}
