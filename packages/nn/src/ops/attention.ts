/**
 * Scaled dot-product attention cores, written per backend behind one API (DESIGN §5):
 * on wasm a loop of 2-D matMuls per (batch·head) slice keeps every product on XNNPACK
 * (TFJS_NOTES §3: batched or flagged matMuls fall back to a scalar loop); elsewhere one batched
 * matMul. Both compute `softmax(q kᵀ · scale) v` with the scale applied to the scores, as the
 * official `Attention` does.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors.js';
import { matmul2d } from './matmul.js';
import { opsMode } from './mode.js';

export interface AttentionResult {
  /** `[BH, Nq, D]` */
  out: tf.Tensor3D;
  /** `[BH, Nq, Nk]` softmax probabilities, when requested. */
  attn?: tf.Tensor3D;
}

/** Whether the per-slice formulation is used on the active backend. */
export function usesSlicedAttention(): boolean {
  return tf.getBackend() === 'wasm' && opsMode() === 'tuned';
}

/**
 * `softmax(q kᵀ · scale) v` over `[BH, N, D]` inputs.
 *
 * @example
 * ```ts
 * const q = tf.randomNormal([6, 10, 16]) as tf.Tensor3D;
 * const { out } = scaledDotProductAttention(q, q, q, 0.25); // [6, 10, 16]
 * ```
 */
export function scaledDotProductAttention(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  scale: number,
  returnAttention = false,
): AttentionResult {
  if (q.shape[0] !== k.shape[0] || k.shape[0] !== v.shape[0] || q.shape[2] !== k.shape[2] || k.shape[1] !== v.shape[1]) {
    throw new ShapeError(
      `attention: incompatible q [${q.shape.join(',')}], k [${k.shape.join(',')}], v [${v.shape.join(',')}]`,
    );
  }
  if (!usesSlicedAttention()) {
    const attn = tf.softmax(tf.mul(tf.matMul(q, k, false, true), scale)) as tf.Tensor3D;
    const out = tf.matMul(attn, v) as tf.Tensor3D;
    return returnAttention ? { out, attn } : { out };
  }
  const qs = tf.unstack(q);
  const ks = tf.unstack(k);
  const vs = tf.unstack(v);
  const outs: tf.Tensor[] = [];
  const attns: tf.Tensor[] = [];
  for (let i = 0; i < qs.length; i++) {
    const scores = tf.mul(matmul2d(qs[i] as tf.Tensor, tf.transpose(ks[i] as tf.Tensor)), scale);
    const p = tf.softmax(scores);
    outs.push(matmul2d(p, vs[i] as tf.Tensor));
    if (returnAttention) attns.push(p);
  }
  const out = tf.stack(outs) as tf.Tensor3D;
  return returnAttention ? { out, attn: tf.stack(attns) as tf.Tensor3D } : { out };
}

/**
 * Attention of a single query token per (batch·head) over `M` keys, as elementwise products
 * (no matMul): `q [BH, D]`, `k, v [BH, M, D]` → `[BH, D]`. Used by class attention, where the
 * batch can be B·N patches with M = k+1 keys each and per-slice matMuls would be far too many.
 */
export function singleQueryAttention(
  q: tf.Tensor2D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  returnAttention = false,
): { out: tf.Tensor2D; attn?: tf.Tensor2D } {
  const bh = q.shape[0];
  const d = q.shape[1];
  const scores = tf.sum(tf.mul(tf.reshape(q, [bh, 1, d]), k), 2); // [BH, M]
  const attn = tf.softmax(scores) as tf.Tensor2D;
  const out = tf.sum(tf.mul(tf.expandDims(attn, 2), v), 1) as tf.Tensor2D;
  return returnAttention ? { out, attn } : { out };
}
