/**
 * Exact GELU, `0.5·x·(1 + erf(x/√2))` (PyTorch `nn.GELU()` default; docs/selfpatch.md §1), with a
 * hand-written gradient `Φ(x) + x·φ(x)` that costs one exp instead of the stock chain.
 */
import * as tf from '@tensorflow/tfjs-core';
import { defineOp } from './custom-op.js';
import { GELU_GRAD_KERNEL, GELU_KERNEL, hasFusedKernel } from '../kernels.js';

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

const geluImpl = defineOp(1, ([input], save) => {
  const x = input as tf.Tensor;
  save([x]);
  return {
    value: tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, SQRT1_2)))),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const sx = saved[0] as tf.Tensor;
      const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(sx, SQRT1_2))));
      const pdf = tf.mul(INV_SQRT_2PI, tf.exp(tf.mul(tf.square(sx), -0.5)));
      return [tf.mul(dy, tf.add(cdf, tf.mul(sx, pdf)))];
    },
  };
});

/**
 * @example
 * ```ts
 * gelu(tf.tensor1d([-1, 0, 1])).print(); // [-0.1587, 0, 0.8413]
 * ```
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  if (x.dtype === 'float32' && hasFusedKernel(GELU_KERNEL)) return geluFused(x) as tf.Tensor;
  return geluImpl(x) as tf.Tensor;
}

// With a fused kernel (kernels.ts; `@selfpatch/backend` registers SIMD ones for wasm): one pass forward and one backward instead of ~5 and ~11 kernels.
const geluFused = defineOp(1, ([input], save) => {
  const x = input as tf.Tensor;
  save([x]);
  return {
    value: tf.engine().runKernel(GELU_KERNEL, { x }) as tf.Tensor,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.engine().runKernel(GELU_GRAD_KERNEL, { dy, x: saved[0] as tf.Tensor }) as tf.Tensor],
  };
});
