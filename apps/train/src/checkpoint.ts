/**
 * Training checkpoints: one safetensors file per save (`checkpoints/checkpoint-<iteration>.safetensors`)
 * holding every tensor of the run state, with the JSON-able rest (config, position, RNG and
 * loader state, optimizer step counts) in the safetensors `__metadata__`. Written atomically
 * (temp file + fsync + rename), so an interrupted or failed save leaves the previous checkpoints
 * intact; older ones beyond `keep_last` are removed only after the new one is in place, and only
 * intact ones count (see {@link pruneCheckpoints}).
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CheckpointFormatError, type RawTensor } from '@selfpatch/nn';
import { detectFormat, parseSafetensors, parseSafetensorsHeader, serializeSafetensors } from '@selfpatch/checkpoint';
import { readCheckpointBytes, writeFileAtomic } from '@selfpatch/checkpoint/node';
import type { LoaderState } from '@selfpatch/data';
import type { TrainConfig } from './config.js';
import type { ObjectiveState } from './objectives.js';

export const CHECKPOINT_FORMAT = 'selfpatch-ts/train-checkpoint@1';

export interface RunPosition {
  /** The next iteration to run. */
  iteration: number;
  loader: LoaderState;
  /** Identifies the image list (count + hash of relative paths) so a resume reads the same data. */
  files: { count: number; hash: string };
  /** Seconds of training so far (for the ETA and the report). */
  elapsed: number;
}

export interface TrainCheckpoint {
  config: TrainConfig;
  position: RunPosition;
  objective: ObjectiveState;
}

const NAME = /^checkpoint-(\d+)\.safetensors$/;

export function checkpointDir(out: string): string {
  return join(out, 'checkpoints');
}

/** Writes a checkpoint and prunes the oldest beyond `keepLast`; returns its path. */
export function saveCheckpoint(out: string, ckpt: TrainCheckpoint, keepLast: number): string {
  const dir = checkpointDir(out);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `checkpoint-${String(ckpt.position.iteration).padStart(8, '0')}.safetensors`);
  const metadata = {
    format: CHECKPOINT_FORMAT,
    config: JSON.stringify(ckpt.config),
    position: JSON.stringify(ckpt.position),
    objective: JSON.stringify(ckpt.objective.meta),
  };
  writeFileAtomic(path, serializeSafetensors(ckpt.objective.tensors, metadata));
  pruneCheckpoints(out, path, keepLast);
  return path;
}

function iterationOf(path: string): number {
  return Number(NAME.exec(basename(path))?.[1] ?? -1);
}

/**
 * Keeps `newest` (just written) and the `keepLast − 1` newest *intact* checkpoints before it;
 * removes older intact ones. Damaged files are neither counted nor removed (they are evidence, and
 * never what a resume would use), and files numbered past `newest` are left alone, so pruning can
 * never remove the checkpoint a run would resume from.
 */
export function pruneCheckpoints(out: string, newest: string, keepLast: number): string[] {
  const at = iterationOf(newest);
  const older = listCheckpoints(out).filter((p) => p !== newest && iterationOf(p) < at && checkpointIntact(p));
  const doomed = older.slice(0, Math.max(0, older.length - (keepLast - 1)));
  for (const p of doomed) rmSync(p, { force: true });
  return doomed;
}

/**
 * A cheap integrity check that reads only the header: a selfpatch-train checkpoint whose header
 * validates and whose data section is exactly what the header describes. Catches truncated,
 * empty and foreign files without reading hundreds of megabytes.
 */
export function checkpointIntact(path: string): boolean {
  let fd: number | null = null;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(8);
    if (readSync(fd, head, 0, 8, 0) < 8) return false;
    const n = Number(head.readBigUInt64LE(0));
    if (8 + n > size) return false;
    const prefix = Buffer.alloc(8 + n);
    readSync(fd, prefix, 0, 8 + n, 0);
    const h = parseSafetensorsHeader(prefix, size, { source: path });
    return h.metadata.format === CHECKPOINT_FORMAT && h.dataStart + h.dataUsed === size;
  } catch {
    return false;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** The newest intact checkpoint of a run (header check only), or null. */
export function newestIntactCheckpoint(out: string): string | null {
  return listCheckpoints(out).reverse().find(checkpointIntact) ?? null;
}

/** Checkpoint files of a run, oldest first. */
export function listCheckpoints(out: string): string[] {
  const dir = checkpointDir(out);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && NAME.test(e.name))
    .map((e) => e.name)
    .sort()
    .map((f) => join(dir, f));
}

export function readTrainCheckpoint(path: string): TrainCheckpoint {
  const bytes = readCheckpointBytes(path);
  if (detectFormat(bytes, path) === 'pth') {
    throw new CheckpointFormatError(path, "a PyTorch file, not a selfpatch-train checkpoint (runs/<name>/checkpoints/checkpoint-*.safetensors); the eval and infer tools load .pth backbones");
  }
  const { tensors, metadata } = parseSafetensors(bytes, { source: path });
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointFormatError(path, `not a selfpatch-train checkpoint (format '${metadata.format ?? 'none'}'); use 'selfpatch-train export' outputs or the official files with the eval/infer tools`);
  }
  try {
    return {
      config: JSON.parse(metadata.config ?? '') as TrainConfig,
      position: JSON.parse(metadata.position ?? '') as RunPosition,
      objective: { tensors: Object.fromEntries(tensors) as Record<string, RawTensor>, meta: JSON.parse(metadata.objective ?? metadata.job ?? '') /* 'job': the key before 0.3 */ as ObjectiveState['meta'] },
    };
  } catch (err) {
    throw new CheckpointFormatError(path, `damaged metadata (${(err as Error).message})`);
  }
}

/**
 * The newest checkpoint that reads back; damaged newer files (a crash during a non-atomic copy,
 * disk errors) are reported through `onSkip` and passed over.
 */
export function latestCheckpoint(out: string, onSkip: (path: string, reason: string) => void = () => {}): { path: string; ckpt: TrainCheckpoint } | null {
  for (const path of listCheckpoints(out).reverse()) {
    try {
      return { path, ckpt: readTrainCheckpoint(path) };
    } catch (err) {
      onSkip(path, (err as Error).message);
    }
  }
  return null;
}
