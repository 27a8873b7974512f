/**
 * DAVIS video object segmentation by label propagation, as the official evaluation
 * (docs/selfpatch.md §8; `eval_video_segmentation.py`):
 *
 *   A_i[q, s] = exp(⟨F̂_t[q], F̂_s^i[s]⟩ / τ) · M[q, s]      (features L2-normalised, τ = 0.1)
 *   stacked to [n·hw sources (context-major), hw queries]; per query, entries below its top-k-th
 *   value over all n·hw sources are zeroed (ties keep more); columns normalised to sum 1;
 *   new soft mask = S · A with S = the context masks [K, n·hw].
 *
 * M restricts sources to a (2R+1)² window around the query (no wrap-around); R = 0 disables it.
 * Post-processing: bilinear ×P upsampling (align_corners=False, torch's clamped source index),
 * `norm_mask`, argmax.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, hasFusedKernel, l2normalize, matmul2d, ShapeError } from '@selfpatch/nn';
import { NEIGHBORHOOD_PROPAGATION_KERNEL } from '@selfpatch/nn/kernels';

/** `restrict_neighborhood(h, w)`: `[hw, hw]`, 1 where |Δrow| ≤ R and |Δcol| ≤ R. */
export function neighborhoodMask(h: number, w: number, radius: number): Float32Array {
  const n = h * w;
  const m = new Float32Array(n * n);
  for (let q = 0; q < n; q++) {
    const qr = Math.floor(q / w);
    const qc = q % w;
    for (let s = 0; s < n; s++) {
      if (Math.abs(Math.floor(s / w) - qr) <= radius && Math.abs((s % w) - qc) <= radius) m[q * n + s] = 1;
    }
  }
  return m;
}

let maskCache: { key: string; data: Float32Array } | null = null;

/** {@link neighborhoodMask} for the last grid seen (a video keeps one grid for all its frames). */
function cachedNeighborhoodMask(h: number, w: number, radius: number): Float32Array {
  const key = `${h}x${w}r${radius}`;
  if (maskCache?.key !== key) maskCache = { key, data: neighborhoodMask(h, w, radius) };
  return maskCache.data;
}

export interface PropagationOptions {
  h: number;
  w: number;
  /** size_mask_neighborhood (12); 0 disables the spatial restriction. */
  radius?: number;
  /** topk (5). */
  topk?: number;
  /** 0.1 (hard-coded in the reference). */
  temperature?: number;
}

export interface PropagationResult {
  /** `[K, h, w]` soft mask of the target frame. */
  seg: tf.Tensor3D;
  /** `[n·hw, hw]` final affinity (for inspection/tests). */
  aff: tf.Tensor2D;
}

/**
 * @param target `[hw, C]` target-frame features (rows = patches, row-major grid)
 * @param sources per context frame `[C, hw]` (first frame first, then the queue, oldest first)
 * @param segs per context frame `[K, h, w]` (one-hot first mask, then soft masks)
 *
 * @example
 * ```ts
 * const { seg } = labelPropagation(featT, [feat1T, ...queueFeats], [mask1, ...queueMasks], { h: 30, w: 52 });
 * ```
 */
export function labelPropagation(target: tf.Tensor2D, sources: tf.Tensor2D[], segs: tf.Tensor3D[], o: PropagationOptions): PropagationResult {
  const { h, w, hw, radius, topk, tau } = settings(target, sources, segs, o);
  return tf.tidy(() => {
    const { ft, fs } = normalizedOperands(target, sources);
    let aff = tf.exp(tf.div(matmul2d(ft, fs), tau)); // [hw queries, n·hw sources]
    if (radius > 0) {
      // Broadcast over the contexts instead of tiling the mask (wasm's Tile is a slow copy loop).
      const m = tf.tensor3d(cachedNeighborhoodMask(h, w, radius), [hw, 1, hw]);
      aff = tf.reshape(tf.mul(tf.reshape(aff, [hw, sources.length, hw]), m), [hw, sources.length * hw]);
    }
    // Per query: keep values ≥ its top-k-th largest (ties keep more), normalise to sum 1.
    // `a ≥ b` as `min(sign(a − b) + 1, 1)`: exact for finite floats (a − b is 0 only when a = b)
    // and several times faster on wasm than a broadcast GreaterEqual.
    const kth = tf.min(tf.topk(aff, topk).values, 1, true);
    const kept = tf.mul(aff, tf.minimum(tf.add(tf.sign(tf.sub(aff, kth)), 1), 1));
    const normed = tf.div(kept, tf.sum(kept, 1, true));
    const affT = tf.transpose(normed) as tf.Tensor2D; // [n·hw sources, hw queries]
    const seg = tf.reshape(matmul2d(contextMasks(segs, hw), affT), [segs[0]?.shape[0] ?? 0, h, w]) as tf.Tensor3D;
    return { seg, aff: affT };
  });
}

/** Largest top-k the fused kernel takes (it keeps the k best values per query in a sorted list). */
const FUSED_TOPK_MAX = 64;

/**
 * The propagated soft mask alone: {@link labelPropagation}'s `seg`, without the dense affinity.
 * Where the backend registers the fused kernel (wasm, with `@selfpatch/backend`), only the dot
 * products around each query's window are computed (the window holds the only sources the mask
 * can keep: 29% of them at radius 12 on a 30×52 grid; the kernel's 4×8 blocks compute 42%), with
 * no `[n·hw, hw]` intermediate; elsewhere it runs
 * {@link labelPropagation}. The kept sources are the same either way; the sums that follow may
 * differ in the last bits.
 *
 * @param target `[hw, C]` target-frame features (rows = patches, row-major grid)
 * @param sources per context frame `[C, hw]`
 * @param segs per context frame `[K, h, w]`
 * @example
 * ```ts
 * const seg = propagateMask(featT, [feat1T, ...queueFeats], [mask1, ...queueMasks], { h: 30, w: 52 }); // [K, 30, 52]
 * ```
 */
export function propagateMask(target: tf.Tensor2D, sources: tf.Tensor2D[], segs: tf.Tensor3D[], o: PropagationOptions): tf.Tensor3D {
  const { h, w, hw, radius, topk, tau } = settings(target, sources, segs, o);
  const inputs = [target, ...sources, ...segs];
  if (topk > FUSED_TOPK_MAX || !hasFusedKernel(NEIGHBORHOOD_PROPAGATION_KERNEL) || inputs.some((x) => x.dtype !== 'float32')) {
    const { seg, aff } = labelPropagation(target, sources, segs, o);
    aff.dispose();
    return seg;
  }
  return tf.tidy(() => {
    const { ft, fs } = normalizedOperands(target, sources);
    const attrs = { h, w, radius, topk, temperature: tau };
    const out = tf.engine().runKernel(NEIGHBORHOOD_PROPAGATION_KERNEL, { target: ft, sources: fs, segs: contextMasks(segs, hw) }, attrs) as tf.Tensor2D;
    return tf.reshape(out, [out.shape[0], h, w]) as tf.Tensor3D;
  });
}

/** Options with their defaults (hw: patches per frame), after checking the inputs agree with them. */
function settings(target: tf.Tensor2D, sources: tf.Tensor2D[], segs: tf.Tensor3D[], o: PropagationOptions): { h: number; w: number; hw: number; radius: number; topk: number; tau: number } {
  const { h, w } = o;
  const hw = h * w;
  const radius = o.radius ?? 12;
  const topk = o.topk ?? 5;
  const tau = o.temperature ?? 0.1;
  if (sources.length === 0 || sources.length !== segs.length) throw new ShapeError(`${sources.length} context features vs ${segs.length} context masks`);
  if (target.shape[0] !== hw) throw new ShapeError(`target has ${target.shape[0]} patches, grid ${h}x${w} has ${hw}`);
  sources.forEach((s, i) => {
    if (s.shape[0] !== target.shape[1] || s.shape[1] !== hw) throw new ShapeError(`context ${i} features are [${s.shape.join(',')}], expected [${target.shape[1]}, ${hw}]`);
  });
  segs.forEach((s, i) => {
    if (s.shape[0] !== segs[0]?.shape[0] || s.shape[1] !== h || s.shape[2] !== w) throw new ShapeError(`context ${i} mask is [${s.shape.join(',')}], expected [${segs[0]?.shape[0]}, ${h}, ${w}]`);
  });
  if (!(topk >= 1 && topk <= sources.length * hw)) throw new ConfigError('topk', `must be in 1..${sources.length * hw}, got ${topk}`);
  return { h, w, hw, radius, topk, tau };
}

/** `F.normalize(·, dim=1)` of the target `[hw, C]` and of the sources, side by side as `[C, n·hw]`. */
function normalizedOperands(target: tf.Tensor2D, sources: tf.Tensor2D[]): { ft: tf.Tensor2D; fs: tf.Tensor2D } {
  const ft = l2normalize(target) as tf.Tensor2D;
  // Sources normalised along the feature axis (their dim 0).
  const fs = tf.concat(sources.map((s) => tf.transpose(l2normalize(tf.transpose(s)))), 1) as tf.Tensor2D;
  return { ft, fs };
}

/** The context masks `[K, n·hw]`, context-major (the sources' column order). */
function contextMasks(segs: tf.Tensor3D[], hw: number): tf.Tensor2D {
  const k = (segs[0] as tf.Tensor3D).shape[0];
  return tf.concat(segs.map((sg) => tf.reshape(sg, [k, hw])), 1) as tf.Tensor2D;
}

/** `[out, in]` weights of torch's bilinear resize (align_corners=False, given scale factor). */
function bilinearWeights(inSize: number, outSize: number, scale: number): Float32Array {
  const m = new Float32Array(outSize * inSize);
  for (let o = 0; o < outSize; o++) {
    const x = Math.max((o + 0.5) / scale - 0.5, 0);
    const i0 = Math.min(Math.floor(x), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const l = x - i0;
    m[o * inSize + i0] = (m[o * inSize + i0] as number) + (1 - l);
    m[o * inSize + i1] = (m[o * inSize + i1] as number) + l;
  }
  return m;
}

/** `F.interpolate(seg, scale_factor=P, mode='bilinear')` on `[K, h, w]` → `[K, hP, wP]`. */
export function upsampleBilinear(seg: tf.Tensor3D, factor: number): tf.Tensor3D {
  const [, h, w] = seg.shape;
  return tf.tidy(() => {
    const mr = tf.tensor2d(bilinearWeights(h, h * factor, factor), [h * factor, h]);
    const mcT = tf.transpose(tf.tensor2d(bilinearWeights(w, w * factor, factor), [w * factor, w]));
    const rows = tf.unstack(seg).map((ch) => matmul2d(matmul2d(mr, ch), mcT));
    return tf.stack(rows) as tf.Tensor3D;
  });
}

/** `norm_mask`: per class, if its max > 0, `x ← (x − min) / max(x − min)`. */
export function normMask(mask: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const chans = tf.unstack(mask).map((c) => {
      if ((tf.max(c).dataSync()[0] as number) <= 0) return c;
      const shifted = tf.sub(c, tf.min(c));
      return tf.div(shifted, tf.max(shifted));
    });
    return tf.stack(chans) as tf.Tensor3D;
  });
}

/** Class per pixel (first maximum on ties, as `torch.max`). */
export function argmaxLabels(mask: tf.Tensor3D): tf.Tensor2D {
  return tf.argMax(mask, 0) as tf.Tensor2D;
}
