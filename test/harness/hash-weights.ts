/**
 * The fixtures' portable counter-hash weight rule (docs/golden-fixtures.md; manifest `weight_init`):
 * `u(stream, i)` over the flat C-order index, value `fround(a·u + b)`. Lets fixtures ship without
 * their weights (`swin_forward_swin_t`: 28 M parameters); `sum_f64`/`first4` check the port.
 */
import type { RawTensor } from '@selfpatch/nn';

export function hashUniform(stream: number, i: number): number {
  let x = (i + Math.imul(stream, 0x9e3779b9)) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  return (x >>> 8) / 2 ** 23 - 1;
}

export interface HashStream {
  key: string;
  stream: number;
  a: number;
  b: number;
  shape: number[];
  sum_f64?: number;
  first4?: number[];
}

export function hashTensor(s: { stream: number; a: number; b: number; shape: number[] }): Float32Array {
  const n = s.shape.reduce((p, d) => p * d, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.fround(s.a * hashUniform(s.stream, i) + s.b);
  return out;
}

/** Rebuilds every stream as a raw tensor, checking `sum_f64`/`first4` where given. */
export function hashWeights(streams: HashStream[]): Record<string, RawTensor> {
  const out: Record<string, RawTensor> = {};
  for (const s of streams) {
    const data = hashTensor(s);
    if (s.first4) s.first4.forEach((v, i) => {
      if (data[i] !== Math.fround(v)) throw new Error(`hash weights: ${s.key}[${i}] = ${data[i]}, manifest says ${v}`);
    });
    if (s.sum_f64 !== undefined) {
      let sum = 0;
      for (const v of data) sum += v;
      if (Math.abs(sum - s.sum_f64) > 1e-6 * Math.max(1, Math.abs(s.sum_f64))) throw new Error(`hash weights: ${s.key} sums to ${sum}, manifest says ${s.sum_f64}`);
    }
    out[s.key] = { dtype: 'float32', shape: s.shape, data };
  }
  return out;
}
