/**
 * One sample's work, shared by the loader's worker threads and its in-process mode: decode the
 * file and produce its views with an RNG derived from (seed, epoch, slot), so the result does not
 * depend on which worker ran it or when.
 */
import { Rng } from '@selfpatch/nn/base';
import { readFile } from 'node:fs/promises';
import { decodeImage } from './decode.js';
import { ImageDecodeError } from './decode-error.js';
import { mobyViews, multiCrop, type MultiCropOptions } from './transforms.js';

export type RecipeSpec = { kind: 'multicrop'; options: MultiCropOptions } | { kind: 'moby'; size: number };

export interface Job {
  path: string;
  seed: number;
  epoch: number;
  slot: number;
  recipe: RecipeSpec;
  maxPixels?: number;
}

export type JobResult = { ok: true; slot: number; sizes: number[]; views: Float32Array[] } | { ok: false; slot: number; path: string; reason: string };

export function sampleRng(seed: number, epoch: number, slot: number): Rng {
  return new Rng(seed).fork(`augment:${epoch}:${slot}`);
}

/** Why a file cannot be read, in words (the errno, not libvips' "unsupported image format"). */
function readFailure(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOENT':
      return 'file not found (deleted, or a dangling link)';
    case 'ELOOP':
      return 'symbolic link loop';
    case 'EISDIR':
      return 'is a directory';
    default:
      return `cannot read file (${err.code ?? err.message})`;
  }
}

export async function runJob(job: Job): Promise<JobResult> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(job.path);
  } catch (err) {
    return { ok: false, slot: job.slot, path: job.path, reason: readFailure(err as NodeJS.ErrnoException) };
  }
  try {
    const img = await decodeImage(bytes, { source: job.path, maxPixels: job.maxPixels });
    const rng = sampleRng(job.seed, job.epoch, job.slot);
    const views = job.recipe.kind === 'multicrop' ? multiCrop(img, rng, job.recipe.options) : mobyViews(img, rng, job.recipe.size);
    return { ok: true, slot: job.slot, sizes: views.map((v) => v.size), views: views.map((v) => v.data) };
  } catch (err) {
    // The path travels separately: keep only the reason, so reports do not print the path twice.
    const reason = err instanceof ImageDecodeError ? err.reason : ((err as Error).message ?? String(err));
    return { ok: false, slot: job.slot, path: job.path, reason };
  }
}
