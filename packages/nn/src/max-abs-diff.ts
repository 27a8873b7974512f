/** Test helper: the largest elementwise difference between two tensors or arrays. */
import * as tf from '@tensorflow/tfjs-core';

/** Max |a − b| over two tensors' or arrays' values. */
export function maxAbsDiff(a: tf.Tensor | ArrayLike<number>, b: tf.Tensor | ArrayLike<number>): number {
  const av = a instanceof tf.Tensor ? a.dataSync() : a;
  const bv = b instanceof tf.Tensor ? b.dataSync() : b;
  if (av.length !== bv.length) throw new Error(`length ${av.length} != ${bv.length}`);
  let m = 0;
  for (let i = 0; i < av.length; i++) m = Math.max(m, Math.abs((av[i] as number) - (bv[i] as number)));
  return m;
}
