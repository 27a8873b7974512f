/**
 * `torch.roll` along one axis with static slices + concat: `roll(x, s, axis)[i] = x[(i − s) mod n]`.
 * Differentiable on every backend (no gather).
 */
import * as tf from '@tensorflow/tfjs-core';

export function roll(x: tf.Tensor, shift: number, axis: number): tf.Tensor {
  const ax = axis < 0 ? axis + x.rank : axis;
  const n = x.shape[ax] as number;
  const s = ((shift % n) + n) % n;
  if (s === 0) return x;
  const begin = new Array<number>(x.rank).fill(0);
  const size = x.shape.slice();
  const tailBegin = begin.slice();
  tailBegin[ax] = n - s;
  const tailSize = size.slice();
  tailSize[ax] = s;
  const headSize = size.slice();
  headSize[ax] = n - s;
  return tf.concat([tf.slice(x, tailBegin, tailSize), tf.slice(x, begin, headSize)], ax);
}
