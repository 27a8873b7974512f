/**
 * A whole pre-norm transformer block for inference, `x + attn(norm1(x))` then `y + mlp(norm2(y))`,
 * the official ViT `Block` in eval mode (Dosovitskiy et al. 2021, eqs. 2-3; SelfPatch's
 * `vision_transformer.py` at https://github.com/alinlab/SelfPatch/tree/81aef14), as one call to
 * the backend's {@link INFERENCE_BLOCK_KERNEL}. On wasm that keeps the block's activations inside
 * the kernel module from the first LayerNorm to the second residual sum, where the op-by-op path
 * copies each of its seven kernels' inputs in and outputs out (about 60 MB per ViT-S/16 block at
 * 480×832). The values are those of the ops one by one.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors.js';
import { INFERENCE_BLOCK_KERNEL, hasFusedKernel } from '../kernels.js';
import { tapeRecording } from './custom-op.js';

/** A block's parameters, named as its `state_dict` keys (camel-cased); absent Linear biases are null. */
export interface InferenceBlockWeights {
  norm1Weight: tf.Tensor;
  norm1Bias: tf.Tensor;
  qkvWeight: tf.Tensor;
  qkvBias: tf.Tensor | null;
  projWeight: tf.Tensor;
  projBias: tf.Tensor | null;
  norm2Weight: tf.Tensor;
  norm2Bias: tf.Tensor;
  fc1Weight: tf.Tensor;
  fc1Bias: tf.Tensor | null;
  fc2Weight: tf.Tensor;
  fc2Bias: tf.Tensor | null;
}

/** Settings of one block: attention heads and scale, and each LayerNorm's eps. */
export interface InferenceBlockSettings {
  heads: number;
  scale: number;
  eps1: number;
  eps2: number;
}

/**
 * Whether {@link inferenceBlock} can run for this input: float32 `[B, N, C]`, no gradient tape
 * recording, and the active backend has the kernel.
 *
 * @example
 * ```ts
 * const out = inferenceBlockAvailable(x) ? inferenceBlock(x, weights, settings) : block.forward(x).x;
 * ```
 */
export function inferenceBlockAvailable(x: tf.Tensor): boolean {
  return x.dtype === 'float32' && x.rank === 3 && !tapeRecording() && hasFusedKernel(INFERENCE_BLOCK_KERNEL);
}

/**
 * `y = x + proj(attention(qkv(LN1(x))))`, `out = y + fc2(gelu(fc1(LN2(y))))` for `x [B, N, C]`,
 * through the backend's kernel (check {@link inferenceBlockAvailable} first). Not differentiable.
 * Pass the same weight tensors from call to call: the backend may keep prepared copies per tensor.
 *
 * @example
 * ```ts
 * const c = 8, hidden = 32;
 * const w = (r: number, k: number) => tf.randomNormal([r, k], 0, 0.1);
 * const weights = {
 *   norm1Weight: tf.ones([c]), norm1Bias: tf.zeros([c]), qkvWeight: w(3 * c, c), qkvBias: tf.zeros([3 * c]),
 *   projWeight: w(c, c), projBias: null, norm2Weight: tf.ones([c]), norm2Bias: tf.zeros([c]),
 *   fc1Weight: w(hidden, c), fc1Bias: null, fc2Weight: w(c, hidden), fc2Bias: null,
 * };
 * const out = inferenceBlock(tf.randomNormal([1, 5, c]) as tf.Tensor3D, weights, { heads: 2, scale: 0.5, eps1: 1e-6, eps2: 1e-6 }); // [1, 5, 8]
 * ```
 */
export function inferenceBlock(x: tf.Tensor3D, weights: InferenceBlockWeights, settings: InferenceBlockSettings): tf.Tensor3D {
  const c = x.shape[2];
  const hidden = weights.fc1Weight.shape[0] as number;
  const expect: Array<[string, tf.Tensor | null, number[]]> = [
    ['norm1.weight', weights.norm1Weight, [c]],
    ['norm1.bias', weights.norm1Bias, [c]],
    ['attn.qkv.weight', weights.qkvWeight, [3 * c, c]],
    ['attn.qkv.bias', weights.qkvBias, [3 * c]],
    ['attn.proj.weight', weights.projWeight, [c, c]],
    ['attn.proj.bias', weights.projBias, [c]],
    ['norm2.weight', weights.norm2Weight, [c]],
    ['norm2.bias', weights.norm2Bias, [c]],
    ['mlp.fc1.weight', weights.fc1Weight, [hidden, c]],
    ['mlp.fc1.bias', weights.fc1Bias, [hidden]],
    ['mlp.fc2.weight', weights.fc2Weight, [c, hidden]],
    ['mlp.fc2.bias', weights.fc2Bias, [c]],
  ];
  for (const [key, t, shape] of expect) {
    if (t && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
      throw new ShapeError(`inferenceBlock: ${key} is [${t.shape.join(',')}], expected [${shape.join(',')}] for x [${x.shape.join(',')}]`);
    }
  }
  if (!Number.isInteger(settings.heads) || settings.heads < 1 || c % settings.heads !== 0) {
    throw new ShapeError(`inferenceBlock: ${settings.heads} heads do not divide the width ${c}`);
  }
  const inputs: tf.NamedTensorMap = { x };
  for (const [name, t] of Object.entries(weights) as Array<[string, tf.Tensor | null]>) if (t) inputs[name] = t;
  return tf.engine().runKernel(INFERENCE_BLOCK_KERNEL, inputs, { ...settings }) as tf.Tensor3D;
}
