/**
 * Backend-independent tensors as read from or written to checkpoint files: a typed array with a
 * dtype and a shape (`rawToTensor` in `@selfpatch/nn` makes tfjs tensors of them).
 * `float16`/`bfloat16` values are held upcast in a Float32Array; the dtype remembers the storage
 * type so a writer can encode them back.
 */
import { ShapeError } from './errors.js';

export type RawDType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'bool';

export type RawData = Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | BigInt64Array | Uint8Array;

export interface RawTensor {
  dtype: RawDType;
  shape: number[];
  data: RawData;
}

/** Bytes per element in files. */
export const ITEM_SIZE: Record<RawDType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int8: 1,
  int16: 2,
  int32: 4,
  int64: 8,
  uint8: 1,
  bool: 1,
};

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** True when `value` looks like a {@link RawTensor}. */
export function isRawTensor(value: unknown): value is RawTensor {
  return (
    typeof value === 'object' &&
    value !== null &&
    'dtype' in value &&
    'shape' in value &&
    'data' in value &&
    Array.isArray((value as RawTensor).shape) &&
    ArrayBuffer.isView((value as RawTensor).data)
  );
}

// --- half precision -------------------------------------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function halfToFloat(h: number): number {
  const s = (h & 0x8000) >> 15;
  const e = (h & 0x7c00) >> 10;
  const f = h & 0x03ff;
  let v: number;
  if (e === 0) v = f * 2 ** -24;
  else if (e === 31) v = f === 0 ? Infinity : NaN;
  else v = (1 + f / 1024) * 2 ** (e - 15);
  return s ? -v : v;
}

/** float32 → IEEE half bits, round to nearest even (as torch's `.half()`). */
export function floatToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly rounds up into the exponent (or to infinity).
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

export function bfloat16ToFloat(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0] as number;
}

/** float32 → bfloat16 bits, round to nearest even. */
export function floatToBfloat16(value: number): number {
  f32[0] = value;
  const x = u32[0] as number;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

// --- bytes <-> typed arrays (little-endian) ---------------------------------------------------

/** Decodes little-endian bytes of `dtype` into a fresh, aligned typed array. */
export function decodeBytes(bytes: Uint8Array, dtype: RawDType, count: number): RawData {
  const need = count * ITEM_SIZE[dtype];
  if (bytes.length < need) throw new RangeError(`need ${need} bytes, have ${bytes.length}`);
  // A fresh, aligned copy. (Not `bytes.slice()`: on a Node Buffer that is a view into a shared pool.)
  const copy = new Uint8Array(need);
  copy.set(bytes.subarray(0, need));
  switch (dtype) {
    case 'float32':
      return new Float32Array(copy.buffer, 0, count);
    case 'float64':
      return new Float64Array(copy.buffer, 0, count);
    case 'int8':
      return new Int8Array(copy.buffer, 0, count);
    case 'int16':
      return new Int16Array(copy.buffer, 0, count);
    case 'int32':
      return new Int32Array(copy.buffer, 0, count);
    case 'int64':
      return new BigInt64Array(copy.buffer, 0, count);
    case 'uint8':
    case 'bool':
      return copy;
    case 'float16': {
      const h = new Uint16Array(copy.buffer, 0, count);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(h[i] as number);
      return out;
    }
    case 'bfloat16': {
      const h = new Uint16Array(copy.buffer, 0, count);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = bfloat16ToFloat(h[i] as number);
      return out;
    }
  }
}

/** Encodes a raw tensor's values as little-endian bytes of its dtype. */
export function encodeBytes(t: RawTensor): Uint8Array {
  const n = numelOf(t.shape);
  if (t.data.length !== n) {
    throw new ShapeError(`tensor data has ${t.data.length} elements but shape [${t.shape.join(',')}] needs ${n}`);
  }
  switch (t.dtype) {
    case 'float16':
    case 'bfloat16': {
      const enc = t.dtype === 'float16' ? floatToHalf : floatToBfloat16;
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = enc(Number(t.data[i]));
      return new Uint8Array(out.buffer);
    }
    case 'bool': {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = t.data[i] ? 1 : 0;
      return out;
    }
    default: {
      const Ctor = {
        float32: Float32Array,
        float64: Float64Array,
        int8: Int8Array,
        int16: Int16Array,
        int32: Int32Array,
        int64: BigInt64Array,
        uint8: Uint8Array,
      }[t.dtype];
      const src = t.data;
      const typed =
        src instanceof Ctor
          ? src
          : Ctor === BigInt64Array
            ? BigInt64Array.from(Array.from(src as ArrayLike<number>, (v) => BigInt(Math.round(Number(v)))))
            : (Ctor as unknown as { from(a: ArrayLike<number>): RawData }).from(Array.from(src as ArrayLike<number | bigint>, Number));
      return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
    }
  }
}
