/**
 * Parameter groups of the official optimizer (docs/selfpatch.md §5 "Parameter groups"): group 0 holds
 * trainable parameters with ≥ 2 dims whose name does not end in `.bias` (weight-decayed, including
 * `pos_embed`, `cls_token` and a trainable `last_layer.weight_g [out, 1]`); group 1 holds biases
 * and every 1-D parameter (no weight decay). Frozen parameters are in neither.
 */
import type * as tf from '@tensorflow/tfjs-core';

export interface ParamGroups {
  regularized: Array<[string, tf.Variable]>;
  notRegularized: Array<[string, tf.Variable]>;
}

export function paramGroups(named: Array<[string, tf.Variable]>): ParamGroups {
  const regularized: Array<[string, tf.Variable]> = [];
  const notRegularized: Array<[string, tf.Variable]> = [];
  for (const [name, v] of named) {
    if (!v.trainable) continue;
    if (name.endsWith('.bias') || v.rank === 1) notRegularized.push([name, v]);
    else regularized.push([name, v]);
  }
  return { regularized, notRegularized };
}
