/**
 * Visualisations of a backbone on one image (DINO's `visualize_attention.py` and the usual
 * patch-feature PCA):
 * - attention maps per head: with a CLS token, the CLS query's attention over the patches (as
 *   DINO); without one (SelfPatch layout), the attention each patch receives, averaged over all
 *   queries. Each map is min-max scaled to [0, 1].
 * - PCA: the first three principal components of the patch features (centred), each min-max scaled
 *   to [0, 255], as RGB per patch. Components come from power iteration with deflation on the
 *   C×C covariance (C ≤ 1024 here, so this is cheap and needs no SVD kernel).
 */
import * as tf from '@tensorflow/tfjs-core';
import { matmul2d, ShapeError } from '@selfpatch/nn';

export interface AttentionMapsResult {
  /** Per head, `[h·w]` values in [0, 1]. */
  heads: Float32Array[];
  /** Mean over heads, min-max scaled. */
  mean: Float32Array;
  h: number;
  w: number;
}

function minMax(v: Float32Array): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of v) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  const span = hi - lo || 1;
  return v.map((x) => (x - lo) / span);
}

/**
 * @param attn `[1, heads, N, N]` last-block attention.
 * @param hasCls whether token 0 is a CLS token (DINO layout).
 * @example
 * ```ts
 * const maps = attentionMaps(vit.getLastSelfAttention(img), { h: 14, w: 14 }, vit.config.layout === 'dino');
 * ```
 */
export function attentionMaps(attn: tf.Tensor4D, grid: { h: number; w: number }, hasCls: boolean): AttentionMapsResult {
  const [, heads, n] = attn.shape;
  const patches = grid.h * grid.w;
  if (n !== patches + (hasCls ? 1 : 0)) throw new ShapeError(`attention over ${n} tokens does not match a ${grid.h}x${grid.w} grid${hasCls ? ' + CLS' : ''}`);
  const perHead = tf.tidy(() => {
    const a = tf.reshape(attn, [heads, n, n]);
    const m = hasCls ? tf.slice(a, [0, 0, 1], [heads, 1, patches]) : tf.mean(a, 1);
    return tf.reshape(m, [heads, patches]);
  });
  const data = perHead.dataSync();
  perHead.dispose();
  const raw = Array.from({ length: heads }, (_, i) => data.slice(i * patches, (i + 1) * patches) as Float32Array);
  const mean = new Float32Array(patches);
  for (const r of raw) for (let i = 0; i < patches; i++) mean[i] = (mean[i] as number) + (r[i] as number) / heads;
  return { heads: raw.map(minMax), mean: minMax(mean), h: grid.h, w: grid.w };
}

/** First three principal components of `[h·w, C]` features as RGB bytes `[h·w·3]`. */
export function pcaRgb(feats: tf.Tensor2D, iterations = 100): Uint8Array {
  const [n, c] = feats.shape;
  const { cov, centred } = tf.tidy(() => {
    const x = tf.sub(feats, tf.mean(feats, 0, true)) as tf.Tensor2D;
    return { cov: tf.div(matmul2d(tf.transpose(x) as tf.Tensor2D, x), Math.max(1, n - 1)), centred: tf.keep(x) };
  });
  const covData = cov.dataSync() as Float32Array;
  cov.dispose();
  const comps: Float64Array[] = [];
  const A = Float64Array.from(covData);
  for (let k = 0; k < Math.min(3, c); k++) {
    let v = new Float64Array(c).map((_, i) => Math.sin(i * 12.9898 + k * 78.233) + 1.5);
    let lambda = 0;
    for (let it = 0; it < iterations; it++) {
      const u = new Float64Array(c);
      for (let i = 0; i < c; i++) {
        let s = 0;
        for (let j = 0; j < c; j++) s += (A[i * c + j] as number) * (v[j] as number);
        u[i] = s;
      }
      const norm = Math.hypot(...u) || 1;
      lambda = norm;
      v = u.map((x) => x / norm);
    }
    for (let i = 0; i < c; i++) for (let j = 0; j < c; j++) A[i * c + j] = (A[i * c + j] as number) - lambda * (v[i] as number) * (v[j] as number);
    comps.push(v);
  }
  const proj = tf.tidy(() => matmul2d(centred, tf.tensor2d(Float32Array.from({ length: c * 3 }, (_, i) => (comps[i % 3]?.[Math.floor(i / 3)] ?? 0) as number), [c, 3])));
  centred.dispose();
  const p = proj.dataSync() as Float32Array;
  proj.dispose();
  const out = new Uint8Array(n * 3);
  for (let ch = 0; ch < 3; ch++) {
    const col = minMax(Float32Array.from({ length: n }, (_, i) => p[i * 3 + ch] as number));
    for (let i = 0; i < n; i++) out[i * 3 + ch] = Math.round((col[i] as number) * 255);
  }
  return out;
}
