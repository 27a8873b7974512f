/**
 * Node-only file helpers (`@selfpatch/nn/node`, kept out of the main entry so the package bundles
 * for browsers): reading checkpoints from disk and writing files atomically
 * (temp file in the same directory, fsync, rename), so an interrupted or failed write never
 * leaves a truncated file in place of a good one.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CheckpointFormatError, SelfPatchError } from './errors.js';
import { parseCheckpoint } from './io/checkpoint-files.js';

/** A write to disk failed (full disk, permissions...); the previous file is untouched. */
export class WriteError extends SelfPatchError {
  constructor(
    readonly file: string,
    cause: Error,
  ) {
    super(`could not write ${file}: ${cause.message}`);
  }
}

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

/** Reads and parses a `.pth` or safetensors file. */
export function readCheckpointFile(path: string): unknown {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new CheckpointFormatError(path, `cannot read file (${(err as Error).message})`);
  }
  return parseCheckpoint(bytes, path);
}
