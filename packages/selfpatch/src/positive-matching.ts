/**
 * Positive matching (docs/selfpatch.md §2 steps 2-3; paper §3.1): for each patch, the cosine
 * similarity to every candidate in its neighbourhood, and the top-k candidates as its positives.
 *
 * Similarities come from shifted copies of the normalised grid (one elementwise product per
 * offset), not from gathers. Top-k runs on the host with a fixed tie rule (the lower table slot
 * wins), so the selection is deterministic on every backend; only the selected *set* matters
 * downstream (the aggregation is permutation invariant).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError, l2normalize, matmul2d } from '@selfpatch/nn';
import { neighbourhood, type Neighbourhood, type NeighbourhoodOptions } from './neighbourhood.js';
import { shiftGrid } from './shift.js';

export interface MatchingOptions extends NeighbourhoodOptions {
  /** Positives per patch (k_num). Default 4. */
  k?: number;
}

export interface PositiveMatches {
  nb: Neighbourhood;
  k: number;
  batch: number;
  /** `[B, N, size]` cosine similarity per table slot (−Infinity where a candidate is absent). */
  similarity: Float32Array;
  /** `[B, N, k]` selected table slots, most similar first. */
  slots: Int32Array;
  /** `[B, N, k]` selected flat patch ids. */
  ids: Int32Array;
  /** `[B, N, k]` selected offset index (into `nb.offsets`). */
  offsetIndex: Int32Array;
}


/** `[B, N, O]` similarity to the patch at each offset of `nb.offsets`. */
function offsetSimilarities(tokens: tf.Tensor3D, nb: Neighbourhood): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, n, c] = tokens.shape;
    const xn = l2normalize(tokens) as tf.Tensor3D;
    if (nb.offsets.length > 24) {
      // Large neighbourhoods: one Gram matrix per image, then pick columns on the host.
      const grams = tf.unstack(xn).map((xi) => matmul2d(xi, tf.transpose(xi)));
      return tf.stack(grams) as tf.Tensor3D; // [B, N, N], interpreted by the caller
    }
    const grid = tf.reshape(xn, [b, nb.h, nb.w, c]) as tf.Tensor4D;
    const sims = nb.offsets.map(([dr, dc]) => tf.sum(tf.mul(grid, shiftGrid(grid, dr, dc, nb.border)), 3));
    return tf.reshape(tf.stack(sims, 3), [b, n, nb.offsets.length]) as tf.Tensor3D;
  });
}

/**
 * Finds each patch's `k` most similar neighbours.
 *
 * @example
 * ```ts
 * const m = matchPositives(tokens, { h: 14, w: 14 }, { k: 4 }); // tokens [B, 196, C]
 * m.ids; // [B, 196, 4] flat ids of the positives of every patch
 * ```
 */
export function matchPositives(tokens: tf.Tensor3D, grid: { h: number; w: number }, options: MatchingOptions = {}): PositiveMatches {
  const k = options.k ?? 4;
  const [b, n] = tokens.shape;
  if (grid.h * grid.w !== n) throw new ShapeError(`tokens have ${n} patches but the grid is ${grid.h}x${grid.w}`);
  const nb = neighbourhood(grid.h, grid.w, options);
  if (!Number.isInteger(k) || k < 1) throw new ConfigError('k', `must be a positive integer, got ${k}`);
  if (k > nb.minCount) {
    throw new ConfigError('k', `k=${k} exceeds the ${nb.minCount} candidates available to some patch (${options.kernel ?? 3}x${options.kernel ?? 3} ${nb.border} neighbourhood on a ${grid.h}x${grid.w} grid)`);
  }
  const simT = offsetSimilarities(tokens, nb);
  const raw = simT.dataSync() as Float32Array;
  const full = simT.shape[2] === n && nb.offsets.length > 24;
  simT.dispose();
  const size = nb.size;
  const similarity = new Float32Array(b * n * size).fill(-Infinity);
  for (let bi = 0; bi < b; bi++) {
    for (let p = 0; p < n; p++) {
      for (let s = 0; s < size; s++) {
        const o = nb.slotOffset[p * size + s] as number;
        if (o < 0) continue;
        const col = full ? (nb.table[p * size + s] as number) : o;
        similarity[(bi * n + p) * size + s] = raw[(bi * n + p) * (full ? n : nb.offsets.length) + col] as number;
      }
    }
  }
  const slots = new Int32Array(b * n * k);
  const ids = new Int32Array(b * n * k);
  const offsetIndex = new Int32Array(b * n * k);
  const order = new Int32Array(size);
  for (let row = 0; row < b * n; row++) {
    const base = row * size;
    const p = row % n;
    for (let s = 0; s < size; s++) order[s] = s;
    // Stable descending sort: equal similarities keep ascending slot order.
    const sorted = Array.from(order).sort((a, c) => (similarity[base + c] as number) - (similarity[base + a] as number) || a - c);
    for (let j = 0; j < k; j++) {
      const s = sorted[j] as number;
      slots[row * k + j] = s;
      ids[row * k + j] = nb.table[p * size + s] as number;
      offsetIndex[row * k + j] = nb.slotOffset[p * size + s] as number;
    }
  }
  return { nb, k, batch: b, similarity, slots, ids, offsetIndex };
}
