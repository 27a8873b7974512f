/**
 * Conversion between the checkpoint package's raw tensors (typed arrays with dtype and shape, no
 * tfjs) and tfjs tensors.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { RawDType, RawTensor } from '@selfpatch/checkpoint';

/**
 * Converts to a tfjs tensor: floating types → float32, integer types → int32 (int64 values must
 * fit), bool → bool.
 */
export function rawToTensor(t: RawTensor): tf.Tensor {
  switch (t.dtype) {
    case 'float32':
    case 'float16':
    case 'bfloat16':
      return tf.tensor(t.data as Float32Array, t.shape, 'float32');
    case 'float64':
      return tf.tensor(Float32Array.from(t.data as Float64Array), t.shape, 'float32');
    case 'int64': {
      const src = t.data as BigInt64Array;
      const out = new Int32Array(src.length);
      for (let i = 0; i < src.length; i++) {
        const v = src[i] as bigint;
        if (v > 2147483647n || v < -2147483648n) throw new RangeError(`int64 value ${v} does not fit int32`);
        out[i] = Number(v);
      }
      return tf.tensor(out, t.shape, 'int32');
    }
    case 'bool':
      return tf.tensor(Uint8Array.from(t.data as Uint8Array, (v) => (v ? 1 : 0)), t.shape, 'bool');
    default:
      return tf.tensor(Int32Array.from(t.data as ArrayLike<number>), t.shape, 'int32');
  }
}

/**
 * A module's state dict as raw tensors, keys optionally prefixed (what checkpoint writers take).
 *
 * @example
 * ```ts
 * const tensors = rawStateDict(model.stateDict(), 'model.'); // { 'model.fc.weight': RawTensor, ... }
 * ```
 */
export function rawStateDict(sd: Record<string, tf.Tensor>, prefix = ''): Record<string, RawTensor> {
  return Object.fromEntries(Object.entries(sd).map(([k, t]) => [prefix + k, tensorToRaw(t)]));
}

/** Reads a tfjs tensor back into a raw tensor (float32 / int32 / bool). */
export function tensorToRaw(t: tf.Tensor): RawTensor {
  const data = t.dataSync();
  const dtype: RawDType = t.dtype === 'int32' ? 'int32' : t.dtype === 'bool' ? 'bool' : 'float32';
  const copy = dtype === 'bool' ? Uint8Array.from(data as Uint8Array) : (data.slice() as Float32Array | Int32Array);
  return { dtype, shape: t.shape.slice(), data: copy };
}
