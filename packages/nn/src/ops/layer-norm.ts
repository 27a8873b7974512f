/**
 * LayerNorm over the last axis: `(x − μ)/√(σ² + eps)·γ + β` with the biased variance, as
 * `nn.LayerNorm`.
 */
import * as tf from '@tensorflow/tfjs-core';

export function layerNorm(x: tf.Tensor, weight: tf.Tensor | null, bias: tf.Tensor | null, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  let y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  if (weight) y = tf.mul(y, weight);
  if (bias) y = tf.add(y, bias);
  return y;
}
