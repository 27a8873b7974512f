/**
 * `x Wᵀ + b` for inference: layers in eval mode, off the gradient tape, where the weight does not
 * change between calls. Runs the backend's {@link INFERENCE_LINEAR_KERNEL} when it has one
 * (`@selfpatch/backend` on wasm: its own SIMD product on a packed copy of the weight, kept between
 * calls, 15-25% faster than tfjs-backend-wasm's XNNPACK product on transformer shapes);
 * callers fall back to {@link linear} otherwise.
 */
import * as tf from '@tensorflow/tfjs-core';
import { INFERENCE_LINEAR_GELU_KERNEL, INFERENCE_LINEAR_KERNEL, hasFusedKernel } from '../kernels.js';
import { tapeRecording } from './custom-op.js';
import { overRows } from './matmul.js';

/** Whether `kernel` can run for this input: float32, no gradient tape recording, and registered for the active backend. */
function kernelAvailable(kernel: string, x: tf.Tensor): boolean {
  return x.dtype === 'float32' && !tapeRecording() && hasFusedKernel(kernel);
}

/** `kernel` over the rows of `x [..., in]` with `weight [out, in]` (and `bias`). */
function runOverRows(kernel: string, op: string, x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor | null): tf.Tensor {
  return overRows(op, x, weight, (rows) => tf.engine().runKernel(kernel, bias ? { x: rows, weight, bias } : { x: rows, weight }) as tf.Tensor);
}

/**
 * Whether {@link inferenceLinear} can run for this input: float32, no gradient tape recording,
 * and the active backend has the kernel.
 *
 * @example
 * ```ts
 * const y = inferenceLinearAvailable(x) ? inferenceLinear(x, w, b) : linear(x, w, b);
 * ```
 */
export function inferenceLinearAvailable(x: tf.Tensor): boolean {
  return kernelAvailable(INFERENCE_LINEAR_KERNEL, x);
}

/**
 * `x Wᵀ + b` for `x [..., in]`, `weight [out, in]`; not differentiable (check
 * {@link inferenceLinearAvailable} first). Pass the same `weight` tensor from call to call: the
 * backend may keep a prepared copy of it.
 *
 * @example
 * ```ts
 * const y = inferenceLinear(tf.ones([2, 5, 8]), tf.ones([16, 8]), tf.zeros([16])); // [2, 5, 16]
 * ```
 */
export function inferenceLinear(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor | null): tf.Tensor {
  return runOverRows(INFERENCE_LINEAR_KERNEL, 'inferenceLinear', x, weight, bias);
}

/**
 * Whether {@link inferenceLinearGelu} can run for this input: as {@link inferenceLinearAvailable},
 * and the backend has the fused product + GELU kernel.
 *
 * @example
 * ```ts
 * const h = inferenceLinearGeluAvailable(x) ? inferenceLinearGelu(x, w, b) : gelu(linear(x, w, b));
 * ```
 */
export function inferenceLinearGeluAvailable(x: tf.Tensor): boolean {
  return kernelAvailable(INFERENCE_LINEAR_GELU_KERNEL, x);
}

/**
 * `gelu(x Wᵀ + b)` in one kernel, the same values as {@link inferenceLinear} then `gelu`; not
 * differentiable (check {@link inferenceLinearGeluAvailable} first).
 *
 * @example
 * ```ts
 * const h = inferenceLinearGelu(tf.ones([2, 5, 8]), tf.ones([16, 8]), tf.zeros([16])); // [2, 5, 16]
 * ```
 */
export function inferenceLinearGelu(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor | null): tf.Tensor {
  return runOverRows(INFERENCE_LINEAR_GELU_KERNEL, 'inferenceLinearGelu', x, weight, bias);
}
