/**
 * Stochastic depth (timm `DropPath`; docs/selfpatch.md §1): in training, each sample's residual
 * branch is zeroed with probability `rate` and kept ones are scaled by `1/(1−rate)`. Identity in
 * eval mode or at rate 0. Masks come from a seeded {@link Rng} so runs are reproducible.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import { Module } from '../module.js';
import type { Rng } from '../rng.js';

/** Functional drop-path on `x [B, ...]`. */
export function dropPath(x: tf.Tensor, rate: number, training: boolean, rng: Rng): tf.Tensor {
  if (!training || rate === 0) return x;
  const keep = 1 - rate;
  const b = x.shape[0] as number;
  const mask = new Float32Array(b);
  for (let i = 0; i < b; i++) mask[i] = Math.floor(keep + rng.uniform()) / keep;
  return tf.mul(x, tf.tensor(mask, [b, ...new Array<number>(x.rank - 1).fill(1)]));
}

/**
 * @example
 * ```ts
 * const dp = new DropPath(0.1, new Rng(0));
 * const y = dp.forward(tf.ones([4, 10, 8])); // some samples zeroed in training mode
 * ```
 */
export class DropPath extends Module {
  constructor(
    readonly rate: number,
    private readonly rng: Rng,
  ) {
    super();
    if (!(rate >= 0 && rate < 1)) throw new ConfigError('drop_path_rate', `must be in [0, 1), got ${rate}`);
  }

  forward(x: tf.Tensor): tf.Tensor {
    return dropPath(x, this.rate, this.training, this.rng);
  }
}
