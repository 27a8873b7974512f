/**
 * LayerNorm over the last axis: `(x − μ)/√(σ² + eps)·γ + β` with the biased variance, as
 * `nn.LayerNorm`. On wasm (with γ and β) one fused kernel each way (kernels.ts; SIMD ones from `@selfpatch/backend`) replaces
 * the ~10 forward and ~15 backward tfjs kernels of the composite below.
 */
import * as tf from '@tensorflow/tfjs-core';
import { defineOpFamily } from './custom-op.js';
import { LAYER_NORM_GRAD_KERNEL, LAYER_NORM_KERNEL, hasFusedKernel } from '../kernels.js';

function composite(x: tf.Tensor, weight: tf.Tensor | null, bias: tf.Tensor | null, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  let y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  if (weight) y = tf.mul(y, weight);
  if (bias) y = tf.add(y, bias);
  return y;
}

/** The fused op for one `eps`. */
const fused = defineOpFamily(3, (eps) => ([x, weight, bias], save) => {
  save([x as tf.Tensor, weight as tf.Tensor]);
  return {
    value: tf.engine().runKernel(LAYER_NORM_KERNEL, { x: x as tf.Tensor, weight: weight as tf.Tensor, bias: bias as tf.Tensor }, { eps }) as tf.Tensor,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.engine().runKernel(LAYER_NORM_GRAD_KERNEL, { dy, x: saved[0] as tf.Tensor, weight: saved[1] as tf.Tensor }, { eps }) as tf.Tensor[],
  };
});

/**
 * @example
 * ```ts
 * const y = layerNorm(tf.randomNormal([2, 10, 48]), tf.ones([48]), tf.zeros([48]), 1e-6);
 * ```
 */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor | null, bias: tf.Tensor | null, eps: number): tf.Tensor {
  const c = x.shape[x.rank - 1] as number;
  if (
    weight &&
    bias &&
    x.dtype === 'float32' &&
    weight.rank === 1 &&
    weight.shape[0] === c &&
    bias.rank === 1 &&
    bias.shape[0] === c &&
    hasFusedKernel(LAYER_NORM_KERNEL)
  ) {
    return fused(eps)(x, weight, bias);
  }
  return composite(x, weight, bias, eps);
}
