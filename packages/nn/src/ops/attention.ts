/**
 * Scaled dot-product attention cores, written per backend behind one API (docs/architecture.md §5):
 * on wasm a loop of 2-D matMuls per (batch·head) slice keeps every product on XNNPACK
 * (docs/tfjs-backends.md §3: batched or flagged matMuls fall back to a scalar loop); elsewhere one batched
 * matMul. Both compute `softmax(q kᵀ · scale) v` with the scale applied to the scores, as the
 * official `Attention` does.
 *
 * On wasm the core is one differentiable op with a hand-written backward pass
 * (`dV = Pᵀ dO`, `dP = dO Vᵀ`, `dS = P ⊙ (dP − rowsum(dP ⊙ P))·scale`, `dQ = dS K`, `dK = dSᵀ Q`):
 * taped per slice, a ViT-Ti training step recorded ~12 000 small kernels with their saved inputs
 * and stack/unstack gradients. With the SIMD kernels installed, each direction is one kernel over
 * all slices (registered by a backend package under the names in kernels.ts; `@selfpatch/backend` does it for wasm); without them, a loop of per-slice matMuls.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors.js';
import { defineOpFamily, tapeRecording } from './custom-op.js';
import { matmul2d, transposeFlagsFree } from './matmul.js';
import { ATTENTION_GRAD_KERNEL, ATTENTION_KERNEL, ATTENTION_QKV_KERNEL, SCALED_SOFTMAX_KERNEL, SOFTMAX_GRAD_KERNEL, hasFusedKernel } from '../kernels.js';

export interface AttentionResult {
  /** `[BH, Nq, D]` */
  out: tf.Tensor3D;
  /** `[BH, Nq, Nk]` softmax probabilities, when requested. */
  attn?: tf.Tensor3D;
}

/** Whether the per-slice formulation is used on the active backend: where batched and flagged matMuls are slow (wasm). */
export function usesSlicedAttention(): boolean {
  return !transposeFlagsFree();
}

/** q `[BH, Nq, D]`, k `[BH, Nk, D]`, v `[BH, Nk, E]`, or a ShapeError naming the three shapes. */
function checkQkv(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D): void {
  if (q.shape[0] !== k.shape[0] || k.shape[0] !== v.shape[0] || q.shape[2] !== k.shape[2] || k.shape[1] !== v.shape[1]) {
    throw new ShapeError(`attention: incompatible q [${q.shape.join(',')}], k [${k.shape.join(',')}], v [${v.shape.join(',')}]`);
  }
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
  checkQkv(q, k, v);
  if (!usesSlicedAttention()) {
    const scores = tf.matMul(q, k, false, true);
    // One kernel each way where the backend has the fused softmax (the native one does).
    const attn = (simdSoftmax() && scores.dtype === 'float32' ? batchedScaledSoftmax(scale)(scores) : tf.softmax(tf.mul(scores, scale))) as tf.Tensor3D;
    const out = tf.matMul(attn, v) as tf.Tensor3D;
    return returnAttention ? { out, attn } : { out };
  }
  if (!returnAttention) {
    const fused = fusedAttentionAvailable([q, k, v]);
    return { out: (fused ? fusedAttention : slicedAttention)(scale)(q, k, v) as tf.Tensor3D };
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
    attns.push(p);
  }
  return { out: tf.stack(outs) as tf.Tensor3D, attn: tf.stack(attns) as tf.Tensor3D };
}

/**
 * Whether {@link attentionFromQkv} can run: float32, off the gradient tape, and the active backend
 * has the kernel.
 *
 * @example
 * ```ts
 * if (attentionFromQkvAvailable(x)) out = attentionFromQkv(qkv, heads, scale);
 * ```
 */
export function attentionFromQkvAvailable(x: tf.Tensor): boolean {
  return x.dtype === 'float32' && !tapeRecording() && hasFusedKernel(ATTENTION_QKV_KERNEL);
}

/**
 * Multi-head `softmax(q kᵀ·scale) v` straight from a fused projection `qkv [B, N, 3·heads·D]`
 * (channels `[q | k | v]`, head `j` at `[jD, (j+1)D)` in each) to `[B, N, heads·D]`, the layout
 * the output projection takes. Forward only, through the backend's kernel (check
 * {@link attentionFromQkvAvailable} first).
 *
 * @example
 * ```ts
 * const out = attentionFromQkv(tf.randomNormal([1, 10, 3 * 48]) as tf.Tensor3D, 3, 16 ** -0.5); // [1, 10, 48]
 * ```
 */
export function attentionFromQkv(qkv: tf.Tensor3D, heads: number, scale: number): tf.Tensor3D {
  if (qkv.shape[2] % (3 * heads) !== 0) throw new ShapeError(`attentionFromQkv: qkv [${qkv.shape.join(',')}] is not [B, N, 3·${heads}·D]`);
  return tf.engine().runKernel(ATTENTION_QKV_KERNEL, { qkv }, { heads, scale }) as tf.Tensor3D;
}

/** Whether the fused attention kernels are registered and take these (float32) inputs. */
function fusedAttentionAvailable(inputs: tf.Tensor[]): boolean {
  return hasFusedKernel(ATTENTION_KERNEL) && inputs.every((t) => t.dtype === 'float32');
}

function simdSoftmax(): boolean {
  return hasFusedKernel(SCALED_SOFTMAX_KERNEL);
}

/** `softmax(s·scale)` over the last axis. */
function scaledSoftmax(s: tf.Tensor, scale: number): tf.Tensor {
  return simdSoftmax() ? (tf.engine().runKernel(SCALED_SOFTMAX_KERNEL, { x: s }, { scale }) as tf.Tensor) : tf.softmax(tf.mul(s, scale));
}

/** Gradient of {@link scaledSoftmax} with respect to `s`, from `p` and `dp`. */
function scaledSoftmaxGrad(p: tf.Tensor, dp: tf.Tensor, scale: number): tf.Tensor {
  if (simdSoftmax()) return tf.engine().runKernel(SOFTMAX_GRAD_KERNEL, { p, dp }, { scale }) as tf.Tensor;
  return tf.mul(tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true))), scale);
}

/** {@link scaledSoftmax} as a differentiable op, its gradient from the kept probabilities. */
const batchedScaledSoftmax = defineOpFamily(1, (scale) => ([s], save) => {
  const p = scaledSoftmax(s as tf.Tensor, scale);
  save([p]);
  return { value: p, gradFunc: (dp: tf.Tensor, saved: tf.Tensor[]) => [scaledSoftmaxGrad(saved[0] as tf.Tensor, dp, scale)] };
});

/** The per-slice attention core for one `scale`, as one op. */
const slicedAttention = defineOpFamily(3, (scale) => ([q, k, v], save) => {
  const qs = tf.unstack(q as tf.Tensor);
  const ks = tf.unstack(k as tf.Tensor);
  const vs = tf.unstack(v as tf.Tensor);
  const ps: tf.Tensor[] = [];
  const outs: tf.Tensor[] = [];
  for (let i = 0; i < qs.length; i++) {
    const p = scaledSoftmax(tf.matMul(qs[i] as tf.Tensor2D, tf.transpose(ks[i] as tf.Tensor2D)), scale);
    outs.push(tf.matMul(p as tf.Tensor2D, vs[i] as tf.Tensor2D));
    ps.push(p);
  }
  // Saving is a no-op off the tape; on it, tfjs keeps these until the backward pass has run.
  save([q as tf.Tensor, k as tf.Tensor, v as tf.Tensor, ...ps]);
  return {
    value: tf.stack(outs),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sq, sk, sv, ...sp] = saved as tf.Tensor2D[];
      const dos = tf.unstack(dy);
      const qs2 = tf.unstack(sq as tf.Tensor);
      const ks2 = tf.unstack(sk as tf.Tensor);
      const vs2 = tf.unstack(sv as tf.Tensor);
      const dq: tf.Tensor[] = [];
      const dk: tf.Tensor[] = [];
      const dv: tf.Tensor[] = [];
      for (let i = 0; i < dos.length; i++) {
        const p = sp[i] as tf.Tensor2D;
        const dO = dos[i] as tf.Tensor2D;
        dv.push(tf.matMul(tf.transpose(p), dO));
        const ds = scaledSoftmaxGrad(p, tf.matMul(dO, tf.transpose(vs2[i] as tf.Tensor2D)), scale) as tf.Tensor2D;
        dq.push(tf.matMul(ds, ks2[i] as tf.Tensor2D));
        dk.push(tf.matMul(tf.transpose(ds), qs2[i] as tf.Tensor2D));
      }
      return [tf.stack(dq), tf.stack(dk), tf.stack(dv)];
    },
  };
});

/**
 * The attention core for one `scale` as two SIMD kernels over all slices, with (`biased`) or
 * without a bias input. Off the tape the kernel keeps no p: at high resolution p of all slices at
 * once would be the largest tensor of the forward pass (ViT-S/8 at 480p: ~1 GB).
 */
function fusedAttentionOp(biased: boolean) {
  return defineOpFamily(biased ? 4 : 3, (scale) => (inputs, save) => {
    const [q, k, v, bias] = inputs as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
    const groups = bias ? (bias.shape[0] as number) : 0;
    // Only on the tape is p kept.
    const keepP = tapeRecording();
    const result = tf.engine().runKernel(ATTENTION_KERNEL, bias ? { q, k, v, bias } : { q, k, v }, { scale, keepP }) as unknown as tf.Tensor | tf.Tensor[];
    const [out, p] = Array.isArray(result) ? result : [result];
    if (p) save([q, k, v, p]);
    return {
      value: out as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, sp] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
        if (!sp) throw new Error('attention: the forward pass ran off the gradient tape, so it kept no probabilities');
        return tf.engine().runKernel(ATTENTION_GRAD_KERNEL, { q: sq, k: sk, v: sv, p: sp, dy }, { scale, groups }) as unknown as tf.Tensor[];
      },
    };
  });
}

const fusedAttention = fusedAttentionOp(false);
/** With an additive score bias `[G, Nq, Nk]` (slice `s` takes `s mod G`). */
const fusedBiasedAttention = fusedAttentionOp(true);

/**
 * `softmax(q kᵀ · scale + bias[s mod G]) v` over `[BH, N, D]` slices with an additive score bias
 * `[G, Nq, Nk]` (G divides BH): Swin's relative position bias per head (G = heads), with the
 * shifted-window mask folded in (G = windows · heads). Differentiable in all four inputs. On wasm
 * one SIMD kernel each way; tfjs-wasm would run the batched products as a scalar loop (docs/tfjs-backends.md §3).
 *
 * @example
 * ```ts
 * const q = tf.randomNormal([6, 49, 32]) as tf.Tensor3D; // 2 windows × 3 heads
 * const bias = tf.zeros([3, 49, 49]) as tf.Tensor3D;     // one per head
 * const out = attentionWithBias(q, q, q, bias, 32 ** -0.5); // [6, 49, 32]
 * ```
 */
export function attentionWithBias(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, bias: tf.Tensor3D, scale: number): tf.Tensor3D {
  const [bh, nq] = q.shape;
  const nk = k.shape[1];
  const groups = bias.shape[0];
  checkQkv(q, k, v);
  if (bias.shape[1] !== nq || bias.shape[2] !== nk || groups === 0 || bh % groups !== 0) {
    throw new ShapeError(`attention: bias [${bias.shape.join(',')}] must be [G, ${nq}, ${nk}] with G dividing ${bh}`);
  }
  if (usesSlicedAttention() && fusedAttentionAvailable([q, k, v, bias])) return fusedBiasedAttention(scale)(q, k, v, bias) as tf.Tensor3D;
  let scores = tf.matMul(q, k, false, true) as tf.Tensor;
  if (scale !== 1) scores = tf.mul(scores, scale);
  scores = tf.reshape(tf.add(tf.reshape(scores, [bh / groups, groups, nq, nk]), bias), [bh, nq, nk]);
  return tf.matMul(tf.softmax(scores), v) as tf.Tensor3D;
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
