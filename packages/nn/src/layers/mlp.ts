/**
 * timm/DINO `Mlp`: `fc2(GELU(fc1(x)))`, keys `fc1.*`, `fc2.*` (dropout 0 in SelfPatch).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { Module } from '../module.js';
import { gelu } from '../ops/gelu.js';
import { inferenceLinearGelu, inferenceLinearGeluAvailable } from '../ops/inference-linear.js';
import { Linear, type LinearInit } from './linear.js';
import type { Rng } from '../rng.js';

export interface MlpOptions {
  hiddenFeatures?: number;
  outFeatures?: number;
  init?: LinearInit;
  rng?: Rng;
}

/**
 * @example
 * ```ts
 * const mlp = new Mlp(48, { hiddenFeatures: 192 });
 * const y = mlp.forward(tf.ones([2, 5, 48])); // [2, 5, 48]
 * ```
 */
export class Mlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(inFeatures: number, options: MlpOptions = {}) {
    super();
    const hidden = options.hiddenFeatures ?? inFeatures;
    const out = options.outFeatures ?? inFeatures;
    this.fc1 = this.addModule('fc1', new Linear(inFeatures, hidden, options));
    this.fc2 = this.addModule('fc2', new Linear(hidden, out, options));
  }

  forward(x: tf.Tensor): tf.Tensor {
    // Inference on a backend with the fused kernel (wasm): fc1 and GELU in one pass.
    if (!this.fc1.training && inferenceLinearGeluAvailable(x)) return this.fc2.forward(inferenceLinearGelu(x, this.fc1.weight, this.fc1.bias));
    return this.fc2.forward(gelu(this.fc1.forward(x)));
  }
}
