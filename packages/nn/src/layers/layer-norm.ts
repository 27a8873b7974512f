/**
 * `nn.LayerNorm(dim, eps)` with keys `weight`, `bias`. The official ViT and SelfPatch head use
 * eps 1e-6; Swin uses PyTorch's default 1e-5.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../module.js';
import { layerNorm } from '../ops/layer-norm.js';

/**
 * @example
 * ```ts
 * const ln = new LayerNorm(48, 1e-6);
 * const y = ln.forward(tf.randomNormal([2, 10, 48]));
 * ```
 */
export class LayerNorm extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(
    readonly dim: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.weight = this.addParameter('weight', tf.ones([dim]));
    this.bias = this.addParameter('bias', tf.zeros([dim]));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}
