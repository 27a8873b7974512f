/**
 * Kernel replacements for tfjs-backend-wasm (docs/tfjs-backends.md §2, §3, §8.3, §8.4).
 *
 * - `Slice`, `Unpack`, `SplitV`: the stock kernels call `backend.readSync`, which copies the whole
 *   input for every output; these read the input in place from the wasm heap.
 * - `UnsortedSegmentSum`: missing on wasm, needed by the gradient of `gather`.
 * - `SelfPatchGelu`, `SelfPatchGeluGrad`, `SelfPatchLayerNorm`, `SelfPatchLayerNormGrad`: fused SIMD
 *   kernels (simd-kernels.ts), used by `gelu()` and `layerNorm()`; `Exp` on float32 is the SIMD one.
 * - `Identity`, and `Cast` to the same dtype: the stock kernels copy the data. tfjs runs Identity for
 *   every tensor a kernel saves for its gradient (`engine.saveTensorsForBackwardMode` clones them),
 *   and Cast for every gradient through a clone, so a ViT-Ti training step made ~9 000 copies
 *   (0.4 s, plus a second copy of every saved activation on the heap). Tensors are immutable, so
 *   these share the input's buffer with a reference count, as the stock `Reshape` already does.
 *   Casts to bool also write 0/1 (the stock kernel stores the value's low byte: 2 → 2, -1 → 255).
 * - `GatherV2` (batchDims 0) and `Tile`: the stock kernels compute a strided index per element in
 *   C++ (measured in the SelfPatch head: 129 ms to gather 12544 rows of 192, 14 ms to broadcast the
 *   class token to 3136 rows); these copy whole contiguous runs.
 * - `Sum` of float32 over leading axes only (bias gradients): the stock kernel transposes the input
 *   first; a SIMD column sum (simd-kernels.ts) reads it once. Other reductions go to the stock one.
 * - `Transpose` of float32 matrices (the last two axes swapped, at least 8×8): a SIMD kernel with
 *   4×4 shuffles in 32×32 tiles (simd-kernels.ts). The stock kernel computes a strided index per
 *   element: measured per element, stock/SIMD incl. copies, [196,64] 3.4/0.39 ns, [768,192]
 *   5.8/0.44 ns, [65536,256] 13/2.7 ns, [784,768] 0.72/0.46 ns. Thin matrices and other
 *   permutations still go to the stock kernel.
 *
 * - `BatchMatMul` and `_FusedMatMul` (no transposes, no activation, float32): the SIMD tile of
 *   csrc/linear.c on the right operand packed per call. A ViT-Ti/16 DINO+SelfPatch training step
 *   (every product, forward and both gradients, has a fresh right operand) ran 1.16x faster than
 *   on XNNPACK's product with the SIMD128 build and 1.35x with relaxed SIMD (A/B in one session,
 *   bench/results/latest-matmul-step.md); single ViT-shaped products ran 0.96-1.19x XNNPACK's
 *   GFLOP/s, by shape and by the host's load.
 *   Broadcast left operands, transposes, activations, fewer rows (where XNNPACK's cached packing
 *   wins) and more XNNPACK threads than kernel threads (a browser page with threads) go to the
 *   stock kernel.
 *
 * Must run after `@tensorflow/tfjs-backend-wasm` has been imported (its own registrations would
 * otherwise replace these); `initBackend('wasm')` in this package does it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerSimdKernels, unregisterSimdKernels } from './simd-kernel-registry.js';
import { columnSumSimd, expKernel, matMulSimd, matMulSimdFits, simdKernelThreads, transposeSimd } from './simd-kernels.js';

type TypedArray = Float32Array | Int32Array | Uint8Array;

/** The part of tfjs-backend-wasm's `BackendWasm` these kernels use. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): TypedArray;
  incRef(dataId: tf.DataId): void;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown };
type KernelImpl = (config: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

let installed = false;
/** tfjs-backend-wasm's own kernels for the names replaced here (the fallbacks, and for uninstall). */
const stock = new Map<string, tf.KernelConfig>();

/** The stock kernel `name` on `config`: the replacements fall back to it for the cases they leave. */
function runStock(name: string, config: KernelArgs): tf.TensorInfo {
  const k = stock.get(name);
  if (!k) throw new Error(`tfjs-backend-wasm has no '${name}' kernel to fall back to`);
  return (k.kernelFunc as unknown as (c: KernelArgs) => tf.TensorInfo)(config);
}

/** The input's buffer under a second reference (what the stock `Reshape` returns). */
function share(backend: WasmBackendLike, x: tf.TensorInfo): tf.TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
}

function identityKernel(config: KernelArgs): tf.TensorInfo {
  const x = (config.inputs as { x: tf.TensorInfo }).x;
  if (x.dtype === 'string') return runStock('Identity', config);
  return share(config.backend as WasmBackendLike, x);
}

function simdExpKernel(config: KernelArgs): tf.TensorInfo {
  const x = (config.inputs as { x: tf.TensorInfo }).x;
  if (x.dtype === 'float32' && typeof WebAssembly !== 'undefined') return expKernel(config);
  return runStock('Exp', config);
}

function gatherKernel(config: KernelArgs): tf.TensorInfo {
  const { x, indices } = config.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
  const { axis, batchDims } = config.attrs as unknown as { axis: number; batchDims: number };
  if (batchDims !== 0 || x.dtype === 'string') return runStock('GatherV2', config);
  const be = config.backend as WasmBackendLike;
  const ax = tf.util.parseAxisParam(axis, x.shape)[0] as number;
  const axisDim = x.shape[ax] as number;
  const outer = tf.util.sizeFromShape(x.shape.slice(0, ax));
  const inner = tf.util.sizeFromShape(x.shape.slice(ax + 1));
  const outShape = [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)];
  const out = be.makeOutput(outShape, x.dtype);
  const idx = be.typedArrayFromHeap(indices);
  for (let i = 0; i < idx.length; i++) {
    const v = idx[i] as number;
    // The stock kernel's check and message.
    tf.util.assert(v <= axisDim - 1 && v >= 0, () => `GatherV2: the index value ${v} is not in [0, ${axisDim - 1}]`);
  }
  if (tf.util.sizeFromShape(outShape) === 0) return out;
  const xv = be.typedArrayFromHeap(x);
  const ov = be.typedArrayFromHeap(out);
  let o = 0;
  for (let b = 0; b < outer; b++) {
    const base = b * axisDim * inner;
    for (let i = 0; i < idx.length; i++) {
      const at = base + (idx[i] as number) * inner;
      ov.set(xv.subarray(at, at + inner), o);
      o += inner;
    }
  }
  return out;
}

/** Writes `src` (shape `shape`) tiled `reps` times per axis into `dst` from `at`; returns the length. */
function tileInto(src: TypedArray, shape: readonly number[], reps: readonly number[], dst: TypedArray, at: number, srcAt = 0): number {
  const d0 = (shape[0] ?? 1) as number;
  const r0 = (reps[0] ?? 1) as number;
  let len: number;
  if (shape.length <= 1) {
    dst.set(src.subarray(srcAt, srcAt + d0), at);
    len = d0;
  } else {
    const sub = tf.util.sizeFromShape(shape.slice(1));
    len = 0;
    for (let i = 0; i < d0; i++) len += tileInto(src, shape.slice(1), reps.slice(1), dst, at + len, srcAt + i * sub);
  }
  // Repeat the block along this axis by doubling copies.
  let have = 1;
  while (have < r0) {
    const n = Math.min(have, r0 - have);
    dst.copyWithin(at + have * len, at, at + n * len);
    have += n;
  }
  return len * r0;
}

function tileKernel(config: KernelArgs): tf.TensorInfo {
  const x = (config.inputs as { x: tf.TensorInfo }).x;
  const reps = (config.attrs as unknown as { reps: number[] }).reps;
  if (x.dtype === 'string') return runStock('Tile', config);
  const be = config.backend as WasmBackendLike;
  const outShape = x.shape.map((d, i) => d * (reps[i] as number));
  const out = be.makeOutput(outShape, x.dtype);
  if (tf.util.sizeFromShape(outShape) === 0) return out;
  tileInto(be.typedArrayFromHeap(x), x.shape, reps, be.typedArrayFromHeap(out), 0);
  return out;
}

function sumKernel(config: KernelArgs): tf.TensorInfo {
  const x = (config.inputs as { x: tf.TensorInfo }).x;
  const { axis, keepDims } = config.attrs as unknown as { axis: number | number[]; keepDims: boolean };
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  const k = axes.length;
  const leading = k > 0 && k < x.shape.length && axes.every((a, i) => a === i);
  if (!leading || x.dtype !== 'float32') return runStock('Sum', config);
  const be = config.backend as WasmBackendLike;
  const kept = x.shape.slice(k);
  const out = be.makeOutput(keepDims ? [...x.shape.slice(0, k).map(() => 1), ...kept] : kept, 'float32');
  const cols = tf.util.sizeFromShape(kept);
  const rows = tf.util.sizeFromShape(x.shape.slice(0, k));
  columnSumSimd(be.typedArrayFromHeap(x) as Float32Array, be.typedArrayFromHeap(out) as Float32Array, rows, cols);
  return out;
}

function castKernel(config: KernelArgs): tf.TensorInfo {
  const x = (config.inputs as { x: tf.TensorInfo }).x;
  const dtype = (config.attrs as unknown as { dtype: tf.DataType }).dtype;
  const be = config.backend as WasmBackendLike;
  if (dtype === x.dtype && dtype !== 'string') return share(be, x);
  if (dtype === 'bool' && x.dtype !== 'string') {
    // The stock kernel stores the value itself in the byte (2 → 2, -1 → 255), unlike cpu's x ≠ 0.
    const out = be.makeOutput(x.shape, 'bool');
    const src = be.typedArrayFromHeap(x);
    const dst = be.typedArrayFromHeap(out);
    for (let i = 0; i < src.length; i++) dst[i] = src[i] !== 0 ? 1 : 0;
    return out;
  }
  return runStock('Cast', config);
}

function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) strides[i] = (strides[i + 1] as number) * (shape[i + 1] as number);
  return strides;
}

/** Copies the box `begin..begin+size` of `x` (row-major, shape `xShape`) into `out`. */
export function copyBox(
  x: TypedArray,
  xShape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  out: TypedArray,
): void {
  const rank = xShape.length;
  if (rank === 0) {
    out[0] = x[0] as number;
    return;
  }
  const strides = stridesOf(xShape);
  // Merge the innermost axes that are copied whole into one contiguous run.
  let inner = rank - 1;
  let run = size[inner] as number;
  while (inner > 0 && size[inner] === xShape[inner] && begin[inner] === 0) {
    inner--;
    run *= size[inner] as number;
  }
  const outer = size.slice(0, inner);
  const total = outer.reduce((a, b) => a * b, 1);
  const idx = new Array<number>(inner).fill(0);
  let o = 0;
  for (let n = 0; n < total; n++) {
    let off = 0;
    for (let d = 0; d < inner; d++) off += ((begin[d] as number) + (idx[d] as number)) * (strides[d] as number);
    off += (begin[inner] as number) * (strides[inner] as number);
    out.set(x.subarray(off, off + run), o);
    o += run;
    for (let d = inner - 1; d >= 0; d--) {
      idx[d] = (idx[d] as number) + 1;
      if ((idx[d] as number) < (size[d] as number)) break;
      idx[d] = 0;
    }
  }
}

function sliceInfo(backend: WasmBackendLike, x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  if (size.some((s) => s === 0)) return out;
  // Views are taken after makeOutput: allocating may grow (and move) the heap.
  copyBox(backend.typedArrayFromHeap(x), x.shape, begin, size, backend.typedArrayFromHeap(out));
  return out;
}

function sliceKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const x = (inputs as { x: tf.TensorInfo }).x;
  const { begin, size } = attrs as unknown as { begin: number | number[]; size: number | number[] };
  const [b, s] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size) as [number[], number[]];
  return sliceInfo(backend as unknown as WasmBackendLike, x, b, s);
}

function unpackKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo[] {
  const value = (inputs as { value: tf.TensorInfo }).value;
  let axis = (attrs as unknown as { axis: number }).axis;
  if (axis < 0) axis += value.shape.length;
  const outShape = value.shape.filter((_, i) => i !== axis);
  const begin = new Array<number>(value.shape.length).fill(0);
  const size = value.shape.slice();
  size[axis] = 1;
  const outs: tf.TensorInfo[] = [];
  for (let i = 0; i < (value.shape[axis] as number); i++) {
    begin[axis] = i;
    const o = sliceInfo(backend as WasmBackendLike, value, begin, size);
    outs.push({ dataId: o.dataId, dtype: o.dtype, shape: outShape });
  }
  return outs;
}

function splitVKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo[] {
  const x = (inputs as { x: tf.TensorInfo }).x;
  const { numOrSizeSplits, axis } = attrs as unknown as { numOrSizeSplits: number | number[]; axis: number | number[] };
  const ax = tf.util.parseAxisParam(axis, x.shape)[0] as number;
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = x.shape.slice();
    size[ax] = s;
    const out = sliceInfo(backend as WasmBackendLike, x, begin.slice(), size);
    begin[ax] = (begin[ax] as number) + s;
    return out;
  });
}

function unsortedSegmentSumKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = (attrs as unknown as { numSegments: number }).numSegments;
  const be = backend as WasmBackendLike;
  const inner = tf.util.sizeFromShape(x.shape.slice(segmentIds.shape.length));
  const out = be.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype);
  const xv = be.typedArrayFromHeap(x);
  const ids = be.typedArrayFromHeap(segmentIds);
  const ov = be.typedArrayFromHeap(out);
  ov.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i] as number;
    if (s < 0 || s >= numSegments) continue;
    const o = s * inner;
    const a = i * inner;
    for (let j = 0; j < inner; j++) ov[o + j] = (ov[o + j] as number) + (xv[a + j] as number);
  }
  return out;
}

/** `[batch, rows, cols]` when `perm` swaps the last two axes (leading axes unmoved), else null. */
function matrixTranspose(shape: readonly number[], perm: readonly number[]): [number, number, number] | null {
  const r = shape.length;
  if (r < 2 || perm[r - 2] !== r - 1 || perm[r - 1] !== r - 2) return null;
  for (let i = 0; i < r - 2; i++) if (perm[i] !== i) return null;
  const batch = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return [batch, shape[r - 2] as number, shape[r - 1] as number];
}

function transposeKernel(config: KernelArgs): tf.TensorInfo {
  const x = (config.inputs as { x: tf.TensorInfo }).x;
  const perm = (config.attrs as unknown as { perm: number[] }).perm;
  const m = matrixTranspose(x.shape, perm);
  // Matrices of at least 8×8 go to the SIMD kernel; thin ones and other permutations to the stock one.
  if (m === null || x.dtype !== 'float32' || m[1] < 8 || m[2] < 8) {
    return runStock('Transpose', config);
  }
  const be = config.backend as WasmBackendLike;
  const out = be.makeOutput(perm.map((p) => x.shape[p] as number), x.dtype);
  transposeSimd(be.typedArrayFromHeap(x) as Float32Array, be.typedArrayFromHeap(out) as Float32Array, m[0], m[1], m[2]);
  return out;
}

/** Fewest rows a product needs to leave XNNPACK (see simdMatMul). */
const MATMUL_MIN_ROWS = 64;

/** XNNPACK's thread count in this tfjs-backend-wasm instance (1 without threads). */
function xnnpackThreads(backend: unknown): number {
  return (backend as { wasm?: { tfjs?: { getThreadsCount?: () => number } } }).wasm?.tfjs?.getThreadsCount?.() ?? 1;
}

/**
 * Our product for `a [batch, m, k] · b [1 or batch, k, n] (+ bias [n])` when it takes it, else null
 * (the caller runs the stock kernel).
 */
function simdMatMul(config: KernelArgs, bias: tf.TensorInfo | undefined): tf.TensorInfo | null {
  const { a, b } = config.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = config.attrs as unknown as { transposeA: boolean; transposeB: boolean };
  if (transposeA || transposeB || a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return null;
  const m = a.shape[a.shape.length - 2] as number;
  const k = a.shape[a.shape.length - 1] as number;
  const n = b.shape[b.shape.length - 1] as number;
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  if (b.shape[b.shape.length - 2] !== k || (batchB !== 1 && batchB !== batchA) || a.shape.length !== b.shape.length) return null;
  if (bias && tf.util.sizeFromShape(bias.shape) !== n) return null;
  // A right operand shared by the batch makes one product of batch·m rows. Packing b costs a pass
  // over it per call, which XNNPACK saves by caching packed operands: at 40 rows (DINO's head on a
  // micro-batch, 40×256 by 256×65536) it was 10% slower, at 788 rows 0-20% faster.
  const rows = batchB === 1 ? batchA * m : m;
  if (rows < MATMUL_MIN_ROWS || k === 0 || n === 0 || !matMulSimdFits(rows, k, n, bias !== undefined)) return null;
  if (xnnpackThreads(config.backend) > simdKernelThreads()) return null;
  const be = config.backend as WasmBackendLike;
  const out = be.makeOutput([...a.shape.slice(0, -2), m, n], 'float32');
  // Views after makeOutput: allocating may grow (and move) the heap.
  const av = be.typedArrayFromHeap(a) as Float32Array;
  const bv = be.typedArrayFromHeap(b) as Float32Array;
  const ov = be.typedArrayFromHeap(out) as Float32Array;
  const biasV = bias ? (be.typedArrayFromHeap(bias) as Float32Array) : null;
  if (batchB === 1) {
    matMulSimd(av, bv, biasV, ov, { m: rows, k, n });
  } else {
    for (let i = 0; i < batchA; i++) {
      matMulSimd(av.subarray(i * m * k, (i + 1) * m * k), bv.subarray(i * k * n, (i + 1) * k * n), biasV, ov.subarray(i * m * n, (i + 1) * m * n), { m, k, n });
    }
  }
  return out;
}

function batchMatMulKernel(config: KernelArgs): tf.TensorInfo {
  return simdMatMul(config, undefined) ?? runStock('BatchMatMul', config);
}

function fusedMatMulKernel(config: KernelArgs): tf.TensorInfo {
  const { bias, preluActivationWeights } = config.inputs as { bias?: tf.TensorInfo; preluActivationWeights?: tf.TensorInfo };
  const { activation } = config.attrs as unknown as { activation?: string };
  if ((activation !== undefined && activation !== 'linear') || preluActivationWeights) return runStock('_FusedMatMul', config);
  return simdMatMul(config, bias) ?? runStock('_FusedMatMul', config);
}

/** Every kernel replaced (or added, `UnsortedSegmentSum`) on wasm, by name. */
const REPLACEMENTS: Record<string, KernelImpl> = {
  Slice: sliceKernel,
  Unpack: unpackKernel,
  SplitV: splitVKernel,
  UnsortedSegmentSum: unsortedSegmentSumKernel,
  Transpose: transposeKernel,
  Identity: identityKernel,
  Cast: castKernel,
  Exp: simdExpKernel,
  GatherV2: gatherKernel,
  Tile: tileKernel,
  Sum: sumKernel,
  BatchMatMul: batchMatMulKernel,
  _FusedMatMul: fusedMatMulKernel,
};

/**
 * Replaces/adds the wasm kernels above. Idempotent.
 *
 * @example
 * ```ts
 * import '@tensorflow/tfjs-backend-wasm';
 * import { installWasmKernels } from '@selfpatch/nn';
 * installWasmKernels();
 * ```
 */
export function installWasmKernels(): void {
  if (installed) return;
  for (const [name, kernelFunc] of Object.entries(REPLACEMENTS)) {
    const k = tf.getKernel(name, 'wasm');
    if (k !== undefined) {
      stock.set(name, k);
      tf.unregisterKernel(name, 'wasm');
    }
    // The stock setup binds the wasm function the fallback path calls (the backend runs the setup
    // of the registered config).
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc, setupFunc: k?.setupFunc });
  }
  registerSimdKernels();
  installed = true;
}

/**
 * Restores tfjs-backend-wasm's own kernels (benchmark baselines only): all of them, or only the
 * named ones (for before/after runs of one change). A named replacement goes back to the stock
 * kernel; a named fused kernel (`SelfPatchAttention`, ...) is removed, so its op runs the composite.
 */
export function uninstallWasmKernels(names?: readonly string[]): void {
  if (!installed) return;
  for (const name of names ?? Object.keys(REPLACEMENTS)) {
    if (tf.getKernel(name, 'wasm') !== undefined) tf.unregisterKernel(name, 'wasm');
    const k = stock.get(name);
    if (k) tf.registerKernel(k);
  }
  if (names) return;
  unregisterSimdKernels();
  installed = false;
}
