/**
 * The fused-kernel contract between the ops here and a backend package.
 *
 * Each op in this package has a portable formulation in stock tfjs ops that runs on every backend.
 * A backend package may register a kernel under one of the names below for its backend (today
 * `@selfpatch/backend` registers SIMD wasm kernels for `wasm`); the op then runs that one kernel
 * instead of its composite, with the same inputs, attributes and outputs as documented here. Kept
 * in this package so that library code never imports a backend, and a backend never reaches into
 * an op's internals.
 */
import * as tf from '@tensorflow/tfjs-core';

/** `{ x }` → `gelu(x)` (exact erf). */
export const GELU_KERNEL = 'SelfPatchGelu';
/** `{ dy, x }` → `dx`. */
export const GELU_GRAD_KERNEL = 'SelfPatchGeluGrad';
/** `{ x, weight, bias }`, attr `eps` → LayerNorm over the last axis (biased variance, as torch). */
export const LAYER_NORM_KERNEL = 'SelfPatchLayerNorm';
/** `{ dy, x, weight }`, attr `eps` → `[dx, dweight, dbias]`. */
export const LAYER_NORM_GRAD_KERNEL = 'SelfPatchLayerNormGrad';
/** `{ param, grad, expAvg, expAvgSq }`, attrs {@link AdamWScalars} → `[param, expAvg, expAvgSq]` after one step. */
export const ADAMW_KERNEL = 'SelfPatchAdamW';
/** `{ teacher, student }`, attr `momentum` → `teacher·m + student·(1 − m)`. */
export const EMA_KERNEL = 'SelfPatchEma';
/** `{ x }`, attr `scale` → `softmax(x·scale)` over the last axis. */
export const SCALED_SOFTMAX_KERNEL = 'SelfPatchScaledSoftmax';
/** `{ p, dp }`, attr `scale` → the gradient of `softmax(s·scale)` with respect to `s`. */
export const SOFTMAX_GRAD_KERNEL = 'SelfPatchSoftmaxGrad';
/**
 * `{ q, k, v, bias? }` (`[slices, n, d]`, bias `[groups, nq, nk]` added to slice `s` from group
 * `s mod groups`), attrs `scale`, `keepP` → `softmax(q kᵀ·scale + bias) v`, and the probabilities
 * when `keepP`.
 */
export const ATTENTION_KERNEL = 'SelfPatchAttention';
/** `{ q, k, v, p, dy }`, attrs `scale`, `groups` → `[dq, dk, dv]`, plus `dbias` when `groups > 0`. */
export const ATTENTION_GRAD_KERNEL = 'SelfPatchAttentionGrad';

/**
 * `{ x, weight, bias? }` (`x [rows, in]`, `weight [out, in]`) → `x Wᵀ + b` `[rows, out]`. Forward
 * only, for layers in eval mode off the gradient tape. The backend may keep a prepared copy of
 * `weight` per tfjs dataId (tfjs data never changes under one), so callers pass the same weight
 * tensor from call to call.
 */
export const INFERENCE_LINEAR_KERNEL = 'SelfPatchInferenceLinear';

/**
 * {@link INFERENCE_LINEAR_KERNEL} followed by exact GELU: `gelu(x Wᵀ + b)`, the same values as the
 * product then {@link GELU_KERNEL}. Forward only (an MLP's first layer in eval mode).
 */
export const INFERENCE_LINEAR_GELU_KERNEL = 'SelfPatchInferenceLinearGelu';

/**
 * `{ qkv }` (`[batch, n, 3·heads·d]`, the fused projection with output channels `[q | k | v]`,
 * head `j` at `[j·d, (j+1)·d)` within each), attrs `heads`, `scale` → `[batch, n, heads·d]`, head
 * `j`'s `softmax(q kᵀ·scale) v` at channels `[j·d, (j+1)·d)`. Forward only (inference).
 */
export const ATTENTION_QKV_KERNEL = 'SelfPatchAttentionQkv';

/**
 * `{ target, sources, segs }`: `target [hw, C]` and `sources [C, n·hw]` (n context frames side by
 * side), both already L2-normalised along C, and `segs [K, n·hw]` the context masks in the same
 * column order; attrs `h`, `w` (the grid, hw = h·w), `radius` (0: no spatial restriction), `topk`,
 * `temperature` → `[K, hw]`, the target's propagated soft mask: DAVIS label propagation
 * (`eval_video_segmentation.py`'s `label_propagation`) with the same kept sources, without the
 * dense `[n·hw, hw]` affinity.
 */
export const NEIGHBORHOOD_PROPAGATION_KERNEL = 'SelfPatchNeighborhoodPropagation';

/**
 * One pre-norm transformer block for inference, `y = x + proj(attn(norm1(x)))`,
 * `out = y + fc2(gelu(fc1(norm2(y))))` (the official ViT `Block` in eval mode): `{ x, norm1Weight,
 * norm1Bias, qkvWeight, qkvBias?, projWeight, projBias?, norm2Weight, norm2Bias, fc1Weight,
 * fc1Bias?, fc2Weight, fc2Bias? }` (`x [batch, n, C]`, Linear weights `[out, in]`), attrs `heads`,
 * `scale`, `eps1`, `eps2` → `[batch, n, C]`. The same values as the block's ops one by one
 * ({@link LAYER_NORM_KERNEL}, {@link INFERENCE_LINEAR_KERNEL}, {@link ATTENTION_QKV_KERNEL},
 * {@link INFERENCE_LINEAR_GELU_KERNEL}, tfjs `Add`); a backend runs it to keep the block's
 * activations in one place between them. Forward only; weights are kept per dataId as for
 * {@link INFERENCE_LINEAR_KERNEL}.
 */
export const INFERENCE_BLOCK_KERNEL = 'SelfPatchInferenceBlock';

/** Every name of the contract, for backends that register or remove them all. */
export const FUSED_KERNEL_NAMES: readonly string[] = [
  GELU_KERNEL,
  GELU_GRAD_KERNEL,
  LAYER_NORM_KERNEL,
  LAYER_NORM_GRAD_KERNEL,
  ADAMW_KERNEL,
  EMA_KERNEL,
  SCALED_SOFTMAX_KERNEL,
  SOFTMAX_GRAD_KERNEL,
  ATTENTION_KERNEL,
  ATTENTION_GRAD_KERNEL,
  INFERENCE_LINEAR_KERNEL,
  INFERENCE_LINEAR_GELU_KERNEL,
  ATTENTION_QKV_KERNEL,
  NEIGHBORHOOD_PROPAGATION_KERNEL,
  INFERENCE_BLOCK_KERNEL,
];

/** Scalars of one AdamW update (float32, as the composite computes them). */
export interface AdamWScalars {
  decay: number; // 1 − lr·wd
  beta1: number;
  beta2: number;
  eps: number;
  bc2Sqrt: number; // √(1 − β2ᵗ)
  stepSize: number; // lr / (1 − β1ᵗ)
}

/** Whether the active backend has a kernel registered under `name`. */
export function hasFusedKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/**
 * One fused AdamW update: `[param, expAvg, expAvgSq]` after the step, or null when the active
 * backend has no such kernel, in which case the caller runs the composite.
 *
 * @example
 * ```ts
 * const out = fusedAdamW(p, g, m, v, { decay: 1 - lr * wd, beta1: 0.9, beta2: 0.999, eps: 1e-8, bc2Sqrt, stepSize });
 * ```
 */
export function fusedAdamW(param: tf.Tensor, grad: tf.Tensor, expAvg: tf.Tensor, expAvgSq: tf.Tensor, s: AdamWScalars): [tf.Tensor, tf.Tensor, tf.Tensor] | null {
  if (!hasFusedKernel(ADAMW_KERNEL)) return null;
  if ([param, grad, expAvg, expAvgSq].some((t) => t.dtype !== 'float32')) return null;
  return tf.engine().runKernel(ADAMW_KERNEL, { param, grad, expAvg, expAvgSq }, s as unknown as tf.NamedAttrMap) as unknown as [tf.Tensor, tf.Tensor, tf.Tensor];
}

/**
 * `teacher·m + student·(1 − m)` as one fused kernel, or null when the active backend has none (the
 * caller runs the composite, which gives the same float32 values).
 *
 * @example
 * ```ts
 * const next = fusedEma(teacherParam, studentParam, 0.996) ?? tf.add(tf.mul(teacherParam, 0.996), tf.mul(studentParam, 0.004));
 * ```
 */
export function fusedEma(teacher: tf.Tensor, student: tf.Tensor, momentum: number): tf.Tensor | null {
  if (!hasFusedKernel(EMA_KERNEL)) return null;
  if (teacher.dtype !== 'float32' || student.dtype !== 'float32' || teacher.size !== student.size) return null;
  return tf.engine().runKernel(EMA_KERNEL, { teacher, student }, { momentum }) as tf.Tensor;
}
