/**
 * Training checkpoints: one safetensors file per save (`checkpoints/checkpoint-<iteration>.safetensors`)
 * holding every tensor of the run state, with the JSON-able rest (config, position, RNG and
 * loader state, optimizer step counts) in the safetensors `__metadata__`. Written atomically
 * (temp file + fsync + rename), so an interrupted or failed save leaves the previous checkpoints
 * intact; older ones beyond `keep_last` are removed only after the new one is in place.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointFormatError, type RawTensor } from '@selfpatch/nn';
import { parseSafetensors, serializeSafetensors } from '@selfpatch/nn/io';
import { writeFileAtomic } from '@selfpatch/nn/node';
import type { LoaderState } from '@selfpatch/data';
import type { TrainConfig } from './config.js';
import type { JobState } from './jobs.js';

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
  job: JobState;
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
    job: JSON.stringify(ckpt.job.meta),
  };
  writeFileAtomic(path, serializeSafetensors(ckpt.job.tensors, metadata));
  for (const old of listCheckpoints(out).slice(0, -keepLast)) rmSync(old, { force: true });
  return path;
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
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new CheckpointFormatError(path, `cannot read file (${(err as Error).message})`);
  }
  const { tensors, metadata } = parseSafetensors(bytes, { source: path });
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointFormatError(path, `not a selfpatch-train checkpoint (format '${metadata.format ?? 'none'}'); use 'selfpatch-train export' outputs or the official files with the eval/infer tools`);
  }
  try {
    return {
      config: JSON.parse(metadata.config ?? '') as TrainConfig,
      position: JSON.parse(metadata.position ?? '') as RunPosition,
      job: { tensors: Object.fromEntries(tensors) as Record<string, RawTensor>, meta: JSON.parse(metadata.job ?? '') as JobState['meta'] },
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
