/**
 * `nn.BatchNorm1d` over `[B, C]` (or `[B, C, L]`) with PyTorch keys `weight`, `bias`,
 * `running_mean`, `running_var`, `num_batches_tracked`. Train mode normalises with the batch's
 * biased variance and updates the running statistics with the unbiased one (momentum 0.1); eval
 * mode uses the running statistics.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../module.js';
import { ShapeError } from '../errors.js';

export interface BatchNormOptions {
  eps?: number;
  momentum?: number;
  affine?: boolean;
}

/**
 * @example
 * ```ts
 * const bn = new BatchNorm1d(256);
 * const y = bn.forward(tf.randomNormal([32, 256])); // batch statistics in train mode
 * ```
 */
export class BatchNorm1d extends Module {
  readonly weight: tf.Variable | null;
  readonly bias: tf.Variable | null;
  readonly eps: number;
  readonly momentum: number;

  constructor(
    readonly numFeatures: number,
    options: BatchNormOptions = {},
  ) {
    super();
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum ?? 0.1;
    const affine = options.affine ?? true;
    this.weight = affine ? this.addParameter('weight', tf.ones([numFeatures])) : null;
    this.bias = affine ? this.addParameter('bias', tf.zeros([numFeatures])) : null;
    this.addBuffer('running_mean', tf.zeros([numFeatures]));
    this.addBuffer('running_var', tf.ones([numFeatures]));
    this.addBuffer('num_batches_tracked', tf.scalar(0, 'int32'));
  }

  forward(x: tf.Tensor): tf.Tensor {
    const c = this.numFeatures;
    if ((x.rank !== 2 && x.rank !== 3) || x.shape[1] !== c) {
      throw new ShapeError(`BatchNorm1d(${c}) expects [B, ${c}] or [B, ${c}, L], got [${x.shape.join(',')}]`);
    }
    // Channels last for the reductions.
    const flat = x.rank === 2 ? x : tf.reshape(tf.transpose(x, [0, 2, 1]), [-1, c]);
    let mean: tf.Tensor;
    let variance: tf.Tensor;
    if (this.training) {
      const m = tf.moments(flat, 0);
      mean = m.mean;
      variance = m.variance;
      const n = flat.shape[0] as number;
      if (n < 2) throw new ShapeError('BatchNorm1d in train mode needs more than one value per channel');
      const unbiased = tf.mul(variance, n / (n - 1));
      const mom = this.momentum;
      this.setBuffer('running_mean', tf.tidy(() => tf.add(tf.mul(this.buffer('running_mean'), 1 - mom), tf.mul(tf.clone(mean), mom))));
      this.setBuffer('running_var', tf.tidy(() => tf.add(tf.mul(this.buffer('running_var'), 1 - mom), tf.mul(tf.clone(unbiased), mom))));
      this.setBuffer('num_batches_tracked', tf.tidy(() => tf.add(this.buffer('num_batches_tracked'), tf.scalar(1, 'int32'))));
    } else {
      mean = this.buffer('running_mean');
      variance = this.buffer('running_var');
    }
    let y = tf.mul(tf.sub(flat, mean), tf.rsqrt(tf.add(variance, this.eps)));
    if (this.weight) y = tf.mul(y, this.weight);
    if (this.bias) y = tf.add(y, this.bias);
    return x.rank === 2 ? y : tf.transpose(tf.reshape(y, [x.shape[0] as number, x.shape[2] as number, c]), [0, 2, 1]);
  }
}
