/**
 * Grid shifts with static slices (docs/tfjs-backends.md §9: SelfPatch neighbours "via pad plus static slices"):
 * `shiftGrid(x, dr, dc)[b, r, c] = x[b, r+dr, c+dc]`, wrapping around (torus) or zero outside
 * (clamp). Differentiable on every backend without gather.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BorderMode } from './neighbourhood.js';

function shiftAxis(x: tf.Tensor4D, d: number, axis: 1 | 2, border: BorderMode): tf.Tensor4D {
  const size = x.shape[axis];
  if (d === 0) return x;
  const begin = [0, 0, 0, 0];
  const len = x.shape.slice() as number[];
  if (border === 'torus') {
    const s = ((d % size) + size) % size;
    if (s === 0) return x;
    const headBegin = begin.slice();
    headBegin[axis] = s;
    const headLen = len.slice();
    headLen[axis] = size - s;
    const tailLen = len.slice();
    tailLen[axis] = s;
    return tf.concat([tf.slice(x, headBegin, headLen), tf.slice(x, begin, tailLen)], axis) as tf.Tensor4D;
  }
  if (Math.abs(d) >= size) return tf.zerosLike(x);
  const keepLen = len.slice();
  keepLen[axis] = size - Math.abs(d);
  const keepBegin = begin.slice();
  keepBegin[axis] = d > 0 ? d : 0;
  const pad: Array<[number, number]> = [[0, 0], [0, 0], [0, 0], [0, 0]];
  pad[axis] = d > 0 ? [0, d] : [-d, 0];
  return tf.pad(tf.slice(x, keepBegin, keepLen), pad) as tf.Tensor4D;
}

/** `x [B, h, w, C]` shifted by `(dr, dc)`. */
export function shiftGrid(x: tf.Tensor4D, dr: number, dc: number, border: BorderMode): tf.Tensor4D {
  return shiftAxis(shiftAxis(x, dr, 1, border), dc, 2, border);
}
