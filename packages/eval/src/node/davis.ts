/**
 * DAVIS semi-supervised evaluation end to end (SELFPATCH_SPEC §8, DAVIS_EVAL_SPEC §4-5):
 * propagate each sequence's first mask with a backbone, write indexed palette PNGs like the
 * official `imwrite_indexed`, then score them like `davis2017-evaluation` (first and last frame
 * dropped, J and F per object and frame, M/R/D per object, plain means over all objects) and write
 * its CSVs. Sequences are resumable: a finished sequence has a `.done` marker and is not redone.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { encode as encodePng } from 'fast-png';
import { ConfigError } from '@selfpatch/nn';
import { writeFileAtomic } from '@selfpatch/nn/node';
import { davisDataset, davisEvalFrame, decodeImage, readMask, type DavisSequence, type LabelMap } from '@selfpatch/data';
import { scoreSequence, summarizeScores, GLOBAL_COLUMNS, type DavisScores, type ObjectScores } from '../davis-scores.js';
import { oneHotLabels, resizeLabelsNearest, VideoPropagator, type VideoPropagationOptions } from '../video-propagation.js';
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

export interface DavisRunOptions extends Omit<VideoPropagationOptions, 'patchSize'> {
  /** DAVIS root (holds JPEGImages/, Annotations/, ImageSets/). */
  davis: string;
  out: string;
  /** '2016' (binary masks) or '2017' (indexed, multi-object); default: 2017 if its list exists. */
  year?: '2016' | '2017';
  split?: string;
  sequences?: string[];
  /** Frame size rule; default the official (short side 480, long side floored to 64). */
  frameSize?: (width: number, height: number) => { width: number; height: number };
  onFrame?: (seq: string, index: number, total: number) => void;
  onSequence?: (seq: string, skipped: boolean) => void;
}

/**
 * The official frame-size rule with another short side: short side `shortSide`, long side scaled
 * and floored to a multiple of 64 (`shortSide` 480 is the official rule).
 */
export function frameSizeRule(shortSide: number): (width: number, height: number) => { width: number; height: number } {
  if (!Number.isInteger(shortSide) || shortSide < 64) throw new ConfigError('--short-side', `must be an integer >= 64, got ${shortSide}`);
  return (width, height) => {
    if (height > width) return { width: shortSide, height: Math.max(64, Math.floor((shortSide * height) / width / 64) * 64) };
    return { width: Math.max(64, Math.floor((shortSide * width) / height / 64) * 64), height: shortSide };
  };
}

function pickYear(davis: string, year?: '2016' | '2017'): '2016' | '2017' {
  if (year) return year;
  return existsSync(join(davis, 'ImageSets', '2017')) ? '2017' : '2016';
}

/** The sequences of a DAVIS root, filtered by name (unknown names are a ConfigError). */
export function davisSequences(davis: string, options: { year?: '2016' | '2017'; split?: string; sequences?: string[] } = {}): DavisSequence[] {
  const all = davisDataset(davis, { year: pickYear(davis, options.year), split: options.split ?? 'val' });
  if (!options.sequences?.length) return all;
  const byName = new Map(all.map((s) => [s.name, s]));
  return options.sequences.map((n) => {
    const s = byName.get(n);
    if (!s) throw new ConfigError('--sequences', `'${n}' is not in ${davis} (have ${[...byName.keys()].join(', ')})`);
    return s;
  });
}

/** Image `[1, 3, H, W]` of a frame with the DAVIS transform, and its original size. */
async function readFrame(path: string, frameSize?: DavisRunOptions['frameSize']): Promise<{ x: tf.Tensor4D; width: number; height: number }> {
  const img = await decodeImage(path);
  const v = davisEvalFrame(img, frameSize);
  return { x: tf.tensor4d(v.data, [1, 3, v.height, v.width]), width: img.width, height: img.height };
}

/**
 * Propagates one sequence and writes `<out>/<seq>/<frame>.png` for every frame (the first is the
 * given mask, as the official script writes it).
 */
export async function propagateSequence(backbone: DenseBackbone, seq: DavisSequence, outDir: string, options: DavisRunOptions): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const first = readMask(seq.masks[0] as string);
  const f0 = await readFrame(seq.frames[0] as string, options.frameSize);
  const d0 = backbone.features(f0.x);
  f0.x.dispose();
  const small = resizeLabelsNearest(first.labels, first.width, first.height, d0.w, d0.h);
  const seg0 = oneHotLabels(small, d0.h, d0.w, maxLabel(first) + 1);
  const prop = new VideoPropagator(d0.feats, seg0, { h: d0.h, w: d0.w }, { ...options, patchSize: backbone.stride });
  tf.dispose([d0.feats, seg0]);
  try {
    writeFileAtomic(join(outDir, `${stem(seq.frames[0] as string)}.png`), encodeIndexedPng(first.labels, first.width, first.height));
    for (let i = 1; i < seq.frames.length; i++) {
      const f = await readFrame(seq.frames[i] as string, options.frameSize);
      const d = backbone.features(f.x);
      f.x.dispose();
      const labels = prop.step(d.feats);
      d.feats.dispose();
      const [lh, lw] = labels.shape;
      const data = Uint8Array.from(labels.dataSync());
      labels.dispose();
      const full = resizeLabelsNearest(data, lw, lh, f.width, f.height);
      writeFileAtomic(join(outDir, `${stem(seq.frames[i] as string)}.png`), encodeIndexedPng(full, f.width, f.height));
      options.onFrame?.(seq.name, i, seq.frames.length);
    }
  } finally {
    prop.dispose();
  }
}

function stem(path: string): string {
  return basename(path, extname(path));
}

function maxLabel(m: LabelMap): number {
  let max = 0;
  for (const v of m.labels) if (v !== 255) max = Math.max(max, v);
  return max;
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
