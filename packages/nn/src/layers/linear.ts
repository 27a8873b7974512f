/**
 * `nn.Linear` with PyTorch keys `weight [out, in]`, `bias [out]`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../module.js';
import { linear } from '../ops/matmul.js';
import { opsMode, weightCacheEnabled } from '../ops/mode.js';
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
  private wt: { dataId: object; t: tf.Tensor2D } | null = null;

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
    if (options.bias ?? true) {
      const b = init === 'trunc_normal' ? tf.zeros([outFeatures]) : defaultLinearInit([outFeatures], inFeatures, rng);
      this.bias = this.addParameter('bias', b);
    } else {
      this.bias = null;
    }
  }

  forward(x: tf.Tensor): tf.Tensor {
    return linear(x, this.weight, this.bias, opsMode() === 'tuned' && weightCacheEnabled() ? this.transposedWeight() : undefined);
  }

  /**
   * `Wᵀ`, computed once per value of `W`: a training step calls a layer once per micro-batch and
   * crop group while `W` changes once (optimizer or EMA `assign` gives it a new dataId).
   */
  private transposedWeight(): tf.Tensor2D {
    const id = this.weight.dataId as object;
    if (this.wt?.dataId !== id) {
      this.wt?.t.dispose();
      const w = this.weight;
      this.wt = { dataId: id, t: tf.keep(tf.tidy(() => tf.transpose(w) as tf.Tensor2D)) };
    }
    return this.wt.t;
  }

  override dispose(): void {
    this.wt?.t.dispose();
    this.wt = null;
    super.dispose();
  }
}
