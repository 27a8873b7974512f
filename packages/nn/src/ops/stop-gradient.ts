/** `stopGradient(x)`: identity in the forward pass, no gradient (PyTorch `.detach()`). */
import * as tf from '@tensorflow/tfjs-core';
import { defineOp } from './custom-op.js';

const detach = defineOp(1, ([x], save) => {
  save([]);
  return { value: tf.clone(x as tf.Tensor), gradFunc: (dy: tf.Tensor) => [tf.zerosLike(dy)] };
});

/**
 * @example
 * ```ts
 * const q = stopGradient(tf.softmax(teacherLogits)); // targets carry no gradient
 * ```
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return detach(x) as T;
}
