/**
 * Position-embedding interpolation exactly as the official code (docs/selfpatch.md §1 "Position
 * embedding"): `F.interpolate(mode='bicubic', scale_factor=((h+0.1)/g, (w+0.1)/g))` on the g×g
 * grid. PyTorch samples source coordinate `(o + 0.5)/s − 0.5` with the *given* scale factor (not
 * in/out: a ratio computed from sizes is off by up to 0.33 on real weights), Keys cubic A = −0.75,
 * taps clamped at the edges, no antialiasing.
 *
 * The separable resize is two 2-D matMuls with precomputed weight matrices, so it is exact,
 * differentiable (pos_embed trains through it for local crops) and fast on wasm.
 */
import * as tf from '@tensorflow/tfjs-core';
import { matmul2d, ShapeError } from '@selfpatch/nn';

const A = -0.75;

function cubic(d: number): number {
  const x = Math.abs(d);
  if (x <= 1) return (A + 2) * x ** 3 - (A + 3) * x ** 2 + 1;
  if (x < 2) return A * x ** 3 - 5 * A * x ** 2 + 8 * A * x - 4 * A;
  return 0;
}

/**
 * `[out, in]` weights of PyTorch's 1-D bicubic resize (align_corners=False) with scale factor `s`.
 */
export function bicubicWeights(inSize: number, outSize: number, scale: number): Float32Array {
  const m = new Float32Array(outSize * inSize);
  for (let o = 0; o < outSize; o++) {
    const x = (o + 0.5) / scale - 0.5;
    const i = Math.floor(x);
    const t = x - i;
    const taps = [cubic(t + 1), cubic(t), cubic(1 - t), cubic(2 - t)];
    for (let k = 0; k < 4; k++) {
      const idx = Math.min(inSize - 1, Math.max(0, i - 1 + k));
      m[o * inSize + idx] = (m[o * inSize + idx] as number) + (taps[k] as number);
    }
  }
  return m;
}

/**
 * Resizes patch position embeddings `[1, g², C]` to an `h × w` grid with the official rule.
 * Returns the input unchanged when `h·w == g²` and `h == w`.
 *
 * @example
 * ```ts
 * const pe = tf.randomNormal([1, 196, 48]);
 * const local = interpolatePosEmbed(pe, 6, 6); // [1, 36, 48] for a 96×96 crop at patch 16
 * ```
 */
export function interpolatePosEmbed(posEmbed: tf.Tensor, h: number, w: number): tf.Tensor {
  const [one, n0, c] = posEmbed.shape as [number, number, number];
  const g = Math.round(Math.sqrt(n0));
  if (one !== 1 || g * g !== n0) throw new ShapeError(`pos_embed must be [1, g², C], got [${posEmbed.shape.join(',')}]`);
  if (h * w === n0 && h === w) return posEmbed;
  const sr = (h + 0.1) / g;
  const sc = (w + 0.1) / g;
  // The +0.1 only guarantees floor(g·s) lands on the target size; check it does.
  if (Math.floor(g * sr) !== h || Math.floor(g * sc) !== w) {
    throw new ShapeError(`pos-embed interpolation ${g}x${g} -> ${h}x${w} is not reachable with the official scale factors`);
  }
  const mr = tf.tensor2d(bicubicWeights(g, h, sr), [h, g]);
  const mc = tf.tensor2d(bicubicWeights(g, w, sc), [w, g]);
  // rows: [h, g] @ [g, g·C] ; cols: [w, g] @ [g, h·C] with the grid transposed to column-major.
  const rows = tf.reshape(matmul2d(mr, tf.reshape(posEmbed, [g, g * c])), [h, g, c]);
  const colsFirst = tf.reshape(tf.transpose(rows, [1, 0, 2]), [g, h * c]);
  const out = tf.reshape(matmul2d(mc, colsFirst), [w, h, c]);
  return tf.reshape(tf.transpose(out, [1, 0, 2]), [1, h * w, c]);
}
