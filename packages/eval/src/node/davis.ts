/**
 * DAVIS semi-supervised evaluation end to end (docs/selfpatch.md §8, docs/davis-eval.md §4-5):
 * propagate each sequence's first mask with a backbone, write indexed palette PNGs like the
 * official `imwrite_indexed`, then score them like `davis2017-evaluation` (first and last frame
 * dropped, J and F per object and frame, M/R/D per object, plain means over all objects) and write
 * its CSVs. Sequences are resumable: a finished sequence has a `.done` marker and is not redone.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { ConfigError } from '@selfpatch/nn';
import { writeFileAtomic } from '@selfpatch/checkpoint/node';
import { davisDataset, decodeImage, readMask, type DavisSequence } from '@selfpatch/data';
import { scoreSequence, summarizeScores, GLOBAL_COLUMNS, type DavisScores, type ObjectScores } from '../davis-scores.js';
import { propagateVideo, type PropagateVideoOptions } from '../propagate-video.js';
import type { DenseBackbone } from '../backbone.js';

/** PASCAL VOC colour map (`utils.color_map` of the DAVIS tools): 256 RGB triplets. */
export function vocPalette(): Array<[number, number, number]> {
  const bit = (v: number, i: number) => (v >> i) & 1;
  return Array.from({ length: 256 }, (_, i) => {
    let r = 0;
    let g = 0;
    let b = 0;
    let c = i;
    for (let j = 0; j < 8; j++) {
      r |= bit(c, 0) << (7 - j);
      g |= bit(c, 1) << (7 - j);
      b |= bit(c, 2) << (7 - j);
      c >>= 3;
    }
    return [r, g, b];
  });
}

const PALETTE = vocPalette();

/** Encodes a label map as an 8-bit indexed PNG with the VOC palette (DAVIS-2017 encoding). */
export function encodeIndexedPng(labels: Uint8Array, width: number, height: number): Uint8Array {
  return encodePng({ width, height, data: labels, depth: 8, channels: 1, palette: PALETTE });
}

export interface DavisRunOptions extends PropagateVideoOptions {
  /** DAVIS root (holds JPEGImages/, Annotations/, ImageSets/). */
  davis: string;
  out: string;
  /** '2016' (binary masks) or '2017' (indexed, multi-object); default: 2017 if its list exists. */
  year?: '2016' | '2017';
  split?: string;
  sequences?: string[];
  onFrame?: (seq: string, index: number, total: number) => void;
  onSequence?: (seq: string, skipped: boolean) => void;
}

function pickYear(davis: string, year?: '2016' | '2017'): '2016' | '2017' {
  if (year) return year;
  return existsSync(join(davis, 'ImageSets', '2017')) ? '2017' : '2016';
}

/** The sequences of a DAVIS root, filtered by name (unknown names are a ConfigError). */
export function davisSequences(davis: string, options: { year?: '2016' | '2017'; split?: string; sequences?: string[] } = {}): DavisSequence[] {
  const year = pickYear(davis, options.year);
  const split = options.split ?? 'val';
  // Without an image-set list, the named sequences are all there is to go by.
  const listed = existsSync(join(davis, 'ImageSets', year, `${split}.txt`));
  const all = davisDataset(davis, { year, split, sequences: listed ? undefined : options.sequences?.length ? options.sequences : undefined });
  if (!options.sequences?.length) return all;
  const byName = new Map(all.map((s) => [s.name, s]));
  return options.sequences.map((n) => {
    const s = byName.get(n);
    if (!s) throw new ConfigError('--sequences', `'${n}' is not in ${davis} (have ${[...byName.keys()].join(', ')})`);
    return s;
  });
}

/**
 * Propagates one sequence and writes `<out>/<seq>/<frame>.png` for every frame (the first is the
 * given mask, as the official script writes it).
 */
export async function propagateSequence(backbone: DenseBackbone, seq: DavisSequence, outDir: string, options: DavisRunOptions): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const first = readMask(seq.masks[0] as string);
  writeFileAtomic(join(outDir, `${stem(seq.frames[0] as string)}.png`), encodeIndexedPng(first.labels, first.width, first.height));
  const frames = seq.frames.map((f) => () => decodeImage(f));
  for await (const r of propagateVideo(backbone, first, frames, options)) {
    writeFileAtomic(join(outDir, `${stem(seq.frames[r.index] as string)}.png`), encodeIndexedPng(r.labels, r.width, r.height));
    options.onFrame?.(seq.name, r.index, seq.frames.length);
  }
}

function stem(path: string): string {
  return basename(path, extname(path));
}

/** Propagates every selected sequence, skipping those already finished in `out`. */
export async function runDavis(backbone: DenseBackbone, options: DavisRunOptions): Promise<DavisSequence[]> {
  const seqs = davisSequences(options.davis, options);
  for (const seq of seqs) {
    const dir = join(options.out, seq.name);
    const marker = join(dir, '.done');
    if (existsSync(marker)) {
      options.onSequence?.(seq.name, true);
      continue;
    }
    rmSync(dir, { recursive: true, force: true });
    await propagateSequence(backbone, seq, dir, options);
    writeFileSync(marker, `${new Date().toISOString()}\n`);
    options.onSequence?.(seq.name, false);
  }
  return seqs;
}

/**
 * Scores predicted masks against the ground truth as davis2017-evaluation (semi-supervised).
 *
 * @example
 * ```ts
 * const seqs = davisSequences('DAVIS', { year: '2016' });
 * const scores = evaluateDavis(seqs, 'results');
 * console.log(scores.global['J&F-Mean']);
 * ```
 */
export function evaluateDavis(seqs: DavisSequence[], resultsDir: string): DavisScores {
  const objects: ObjectScores[] = [];
  for (const seq of seqs) {
    const gt = seq.masks.map((m) => readMask(m));
    const preds = seq.masks.slice(1, -1).map((m) => {
      const p = join(resultsDir, seq.name, `${stem(m)}.png`);
      if (!existsSync(p)) throw new ConfigError('--out', `missing prediction ${p}`);
      return readMask(p);
    });
    objects.push(...scoreSequence(seq.name, gt, preds));
  }
  return summarizeScores(objects);
}

const f3 = (v: number) => v.toFixed(3);

/**
 * Writes `global_results.csv` (davis2017-evaluation's columns, `%.3f`) and
 * `per-sequence_results.csv` (one row per `<seq>_<obj>`: the same seven columns).
 */
export function writeDavisCsv(scores: DavisScores, dir: string): { global: string; perSequence: string } {
  const global = join(dir, 'global_results.csv');
  const perSequence = join(dir, 'per-sequence_results.csv');
  const enc = (s: string) => new TextEncoder().encode(s);
  writeFileAtomic(global, enc(`${GLOBAL_COLUMNS.join(',')}\n${GLOBAL_COLUMNS.map((c) => f3(scores.global[c])).join(',')}\n`));
  const rows = scores.objects.map((o) => [o.name, (o.J.mean + o.F.mean) / 2, o.J.mean, o.J.recall, o.J.decay, o.F.mean, o.F.recall, o.F.decay].map((v) => (typeof v === 'number' ? f3(v) : v)).join(','));
  writeFileAtomic(perSequence, enc(`Sequence,${GLOBAL_COLUMNS.join(',')}\n${rows.join('\n')}\n`));
  return { global, perSequence };
}

/** Frames of a sequence folder that have predictions (for progress and resume reporting). */
export function countPredictions(dir: string): number {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.png')).length : 0;
}
