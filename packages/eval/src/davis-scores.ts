/**
 * davis2017-evaluation's semi-supervised protocol on label maps (docs/davis-eval.md §4), without file
 * access so Node and the browser app score identically: first and last frame dropped, objects
 * 1..max(first GT frame), J and F per object and frame (no void), M/R/D per object, global means
 * over all objects of all sequences.
 */
import { ConfigError } from '@selfpatch/nn';
import { boundaryF, dbStatistics, jaccard, type Statistics } from './davis-metrics.js';

/** A label map (object id per pixel, 0 = background, 255 = void in GT). */
export interface Labels {
  width: number;
  height: number;
  labels: Uint8Array;
}

export const GLOBAL_COLUMNS = ['J&F-Mean', 'J-Mean', 'J-Recall', 'J-Decay', 'F-Mean', 'F-Recall', 'F-Decay'] as const;

export interface ObjectScores {
  /** `<seq>_<objid>` as davis2017-evaluation names rows. */
  name: string;
  J: Statistics;
  F: Statistics;
  /** Per-frame J and F (frames 1..N−2). */
  jFrames: number[];
  fFrames: number[];
}

export interface DavisScores {
  objects: ObjectScores[];
  global: Record<(typeof GLOBAL_COLUMNS)[number], number>;
}

/** Largest object id of a label map (255, void, excluded). */
export function maxObjectId(m: Labels): number {
  let max = 0;
  for (const v of m.labels) if (v !== 255) max = Math.max(max, v);
  return max;
}

/** 1 where the label is object `o` (a plain loop: `Uint8Array.from` with a map callback is ~10× slower). */
function objectMask(labels: ArrayLike<number>, o: number): Uint8Array {
  const m = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) m[i] = labels[i] === o ? 1 : 0;
  return m;
}

/**
 * Per-object scores of one sequence.
 *
 * @param gt every ground-truth frame (the first defines the objects).
 * @param preds predictions for frames 1..N−2 (first and last excluded, as the evaluator).
 * @example
 * ```ts
 * const objs = scoreSequence('blackswan', gtFrames, predictedFrames.slice(1, -1));
 * ```
 */
export function scoreSequence(name: string, gt: Labels[], preds: Labels[]): ObjectScores[] {
  if (preds.length !== Math.max(0, gt.length - 2)) throw new ConfigError('predictions', `${name}: ${preds.length} predicted frames for ${gt.length} ground-truth frames (expected ${gt.length - 2}: first and last are not scored)`);
  const nObj = maxObjectId(gt[0] as Labels);
  let predObj = 0;
  for (const p of preds) predObj = Math.max(predObj, maxObjectId(p));
  if (predObj > nObj) throw new ConfigError('predictions', `${name}: predictions have ${predObj} objects, the ground truth ${nObj}`);
  const out: ObjectScores[] = [];
  for (let o = 1; o <= nObj; o++) {
    const jFrames: number[] = [];
    const fFrames: number[] = [];
    preds.forEach((p, i) => {
      const g = gt[i + 1] as Labels;
      if (p.width !== g.width || p.height !== g.height) throw new ConfigError('predictions', `${name} frame ${i + 1}: prediction ${p.width}x${p.height}, ground truth ${g.width}x${g.height}`);
      const gm = objectMask(g.labels, o);
      const pm = objectMask(p.labels, o);
      jFrames.push(jaccard(gm, pm));
      fFrames.push(boundaryF(gm, pm, g.height, g.width));
    });
    out.push({ name: `${name}_${o}`, J: dbStatistics(jFrames), F: dbStatistics(fFrames), jFrames, fFrames });
  }
  return out;
}

/** The global table: plain means over all objects; J&F-Mean = (J-Mean + F-Mean) / 2. */
export function summarizeScores(objects: ObjectScores[]): DavisScores {
  if (objects.length === 0) throw new ConfigError('sequences', 'no objects to evaluate');
  const mean = (f: (o: ObjectScores) => number) => objects.reduce((a, o) => a + f(o), 0) / objects.length;
  const jm = mean((o) => o.J.mean);
  const fm = mean((o) => o.F.mean);
  return {
    objects,
    global: {
      'J&F-Mean': (jm + fm) / 2,
      'J-Mean': jm,
      'J-Recall': mean((o) => o.J.recall),
      'J-Decay': mean((o) => o.J.decay),
      'F-Mean': fm,
      'F-Recall': mean((o) => o.F.recall),
      'F-Decay': mean((o) => o.F.decay),
    },
  };
}
