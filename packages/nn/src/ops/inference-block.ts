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

/** A LayerNorm's or Linear's parameters (a LayerNorm and a Linear module each fit as they are). */
export interface AffineWeights<Bias extends tf.Tensor | null = tf.Tensor | null> {
  weight: tf.Tensor;
  bias: Bias;
}

/** A block's parameters by layer (`attn.qkv`, `attn.proj`, `mlp.fc1`, `mlp.fc2` as qkv, proj, fc1, fc2); Linear biases may be null. */
export interface InferenceBlockWeights {
  norm1: AffineWeights<tf.Tensor>;
  qkv: AffineWeights;
  proj: AffineWeights;
  norm2: AffineWeights<tf.Tensor>;
  fc1: AffineWeights;
  fc2: AffineWeights;
}

/** Each layer's name in InferenceBlockWeights and its `state_dict` prefix (for error messages). */
const LAYERS = [
  ['norm1', 'norm1'],
  ['qkv', 'attn.qkv'],
  ['proj', 'attn.proj'],
  ['norm2', 'norm2'],
  ['fc1', 'mlp.fc1'],
  ['fc2', 'mlp.fc2'],
] as const;

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
 * const linear = (out: number, inF: number, bias = true) => ({ weight: tf.randomNormal([out, inF], 0, 0.1), bias: bias ? tf.zeros([out]) : null });
 * const norm = () => ({ weight: tf.ones([c]), bias: tf.zeros([c]) });
 * const weights = { norm1: norm(), qkv: linear(3 * c, c), proj: linear(c, c), norm2: norm(), fc1: linear(hidden, c), fc2: linear(c, hidden, false) };
 * const out = inferenceBlock(tf.randomNormal([1, 5, c]) as tf.Tensor3D, weights, { heads: 2, scale: 0.5, eps1: 1e-6, eps2: 1e-6 }); // [1, 5, 8]
 * ```
 */
export function inferenceBlock(x: tf.Tensor3D, weights: InferenceBlockWeights, settings: InferenceBlockSettings): tf.Tensor3D {
  const c = x.shape[2];
  const hidden = weights.fc1.weight.shape[0] as number;
  const shapes: Record<(typeof LAYERS)[number][0], number[]> = { norm1: [c], qkv: [3 * c, c], proj: [c, c], norm2: [c], fc1: [hidden, c], fc2: [c, hidden] };
  const check = (key: string, t: tf.Tensor, shape: number[]): void => {
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new ShapeError(`inferenceBlock: ${key} is [${t.shape.join(',')}], expected [${shape.join(',')}] for x [${x.shape.join(',')}]`);
    }
  };
  if (!Number.isInteger(settings.heads) || settings.heads < 1 || c % settings.heads !== 0) {
    throw new ShapeError(`inferenceBlock: ${settings.heads} heads do not divide the width ${c}`);
  }
  // The kernel's inputs are named `${layer}Weight` and `${layer}Bias` (@selfpatch/nn/kernels).
  const inputs: tf.NamedTensorMap = { x };
  for (const [name, key] of LAYERS) {
    const { weight, bias } = weights[name];
    const shape = shapes[name];
    check(`${key}.weight`, weight, shape);
    inputs[`${name}Weight`] = weight;
    if (bias) {
      check(`${key}.bias`, bias, shape.slice(0, 1));
      inputs[`${name}Bias`] = bias;
    }
  }
  return tf.engine().runKernel(INFERENCE_BLOCK_KERNEL, inputs, { ...settings }) as tf.Tensor3D;
}
