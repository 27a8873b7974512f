/**
 * `nn.Linear` with PyTorch keys `weight [out, in]`, `bias [out]`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../module.js';
import { linear, transposeFlagsFree } from '../ops/matmul.js';
import { weightCacheEnabled } from '../ops/weight-cache.js';
import { inferenceLinear, inferenceLinearAvailable } from '../ops/inference-linear.js';
import { DerivedTensors } from '../derived-tensors.js';
import { defaultLinearInit, truncNormal } from '../init.js';
import { globalRng, type Rng } from '../rng-default.js';

export type LinearInit = 'trunc_normal' | 'torch_default';

export interface LinearOptions {
  bias?: boolean;
  /** `trunc_normal` (std 0.02, bias 0; the official `_init_weights`) or PyTorch's default. */
  init?: LinearInit;
  rng?: Rng;
}

/**
 * @example
 * ```ts
 * const fc = new Linear(8, 16);
 * const y = fc.forward(tf.ones([2, 5, 8])); // [2, 5, 16]
 * ```
 */
export class Linear extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  // `Wᵀ` per value of `W`, on wasm only: under withWeightCache (a training step calls a layer once
  // per micro-batch and crop group while `W` changes once) and in eval mode (inference, where `W`
  // does not change) when the backend has no inference kernel of its own. Besides the transpose,
  // a fresh `Wᵀ` per call makes XNNPACK repack the weight on every product; a kept one is packed
  // once (ViT-S/16 forward on wasm: 771 -> 576 ms).
  private readonly wt: DerivedTensors<[tf.Tensor2D]>;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions = {},
  ) {
    super();
    const rng = options.rng ?? globalRng();
    const init = options.init ?? 'trunc_normal';
    const w =
      init === 'trunc_normal'
        ? truncNormal([outFeatures, inFeatures], rng, { std: 0.02 })
        : defaultLinearInit([outFeatures, inFeatures], inFeatures, rng);
    this.weight = this.addParameter('weight', w);
    this.wt = new DerivedTensors(this.weight, (v) => [tf.transpose(v) as tf.Tensor2D]);
    if (options.bias ?? true) {
      const b = init === 'trunc_normal' ? tf.zeros([outFeatures]) : defaultLinearInit([outFeatures], inFeatures, rng);
      this.bias = this.addParameter('bias', b);
    } else {
      this.bias = null;
    }
  }

  forward(x: tf.Tensor): tf.Tensor {
    // Inference on a backend with its own product (wasm): no Wᵀ, the backend keeps its copy of W.
    if (!this.training && inferenceLinearAvailable(x)) return inferenceLinear(x, this.weight, this.bias);
    // The cached Wᵀ serves wasm's flag-free products only (ops/matmul.ts).
    const cached = !transposeFlagsFree() && (weightCacheEnabled() || !this.training);
    return linear(x, this.weight, this.bias, cached ? this.wt.get()[0] : undefined);
  }

  override releaseCaches(): this {
    this.wt.dispose();
    return super.releaseCaches();
  }

  override dispose(): void {
    this.wt.dispose();
    super.dispose();
  }
}
