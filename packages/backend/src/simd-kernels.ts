/**
 * SIMD kernels for tfjs-backend-wasm, compiled from `csrc/*.c` (clang, wasm32 + SIMD128, no libc)
 * and embedded base64 (src/simd-kernels-wasm.ts), so bundles need no extra asset:
 *
 * - `SelfPatchGelu`, `SelfPatchGeluGrad`: exact GELU in one pass each way. tfjs-wasm computes
 *   `erf`/`exp` with scalar libm calls and GELU is ~5 kernels forward and ~11 backward (docs/tfjs-backends.md
 *   §3, §4); a profile of the ViT-Ti DINO+SelfPatch step put ~1.5 s of single-threaded time there.
 * - `Exp` (replaces the stock kernel; wasm-kernels.ts installs it): ~9 ns per element as scalar
 *   `expf`, most of it in the patch loss's softmax over 4096 prototypes.
 * - `SelfPatchLayerNorm`, `SelfPatchLayerNormGrad`: LayerNorm in one kernel each way instead of
 *   ~10 and ~15 tfjs kernels (moments, broadcasts and their gradients) per call.
 *
 * - `SelfPatchAttention`, `SelfPatchAttentionGrad`: the whole attention core `softmax(q kᵀ·scale) v`
 *   and its gradient over (batch·head) slices, with SIMD products of their own (csrc/gemm.h).
 *   Through tfjs each slice was ~10 kernels: XNNPACK products of ~200×200×64, each paying a call,
 *   a weight packing and a thread hand-off (~20 GFLOP/s on 2 threads), plus transposes and
 *   stack/unstack copies. Threads take whole slices.
 * - `SelfPatchScaledSoftmax`, `SelfPatchSoftmaxGrad`: `softmax(s·scale)` and its gradient, one
 *   kernel each instead of 2 and 5 (the attention core when it returns its probabilities).
 * - `SelfPatchEma`: the momentum teacher's `t·m + s·(1 − m)` in one pass instead of three kernels.
 * - `SelfPatchAdamW`: one AdamW update of a parameter, its two moments in one pass instead of ~12
 *   kernels (the optimizer walks ~150 tensors, 33 M values, for ViT-Ti with the DINO heads).
 *
 * The module has its own linear memory: inputs are copied in and results copied out (a
 * memcpy-speed pass each way), which keeps it independent of tfjs's module layout.
 *
 * Accuracy: `exp` by range reduction and a degree-7 polynomial (within a few float32 ulps of
 * `expf`, subnormal/overflow behaviour kept); `Φ` from the erfc Chebyshev fit of Press et al.
 * (fractional error < 1.2e-7); LayerNorm with torch's biased two-pass variance. Checked against the
 * cpu backend in the tests and by the golden fixtures on wasm.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  ADAMW_KERNEL,
  ATTENTION_GRAD_KERNEL,
  ATTENTION_KERNEL,
  EMA_KERNEL,
  GELU_GRAD_KERNEL,
  GELU_KERNEL,
  LAYER_NORM_GRAD_KERNEL,
  LAYER_NORM_KERNEL,
  SCALED_SOFTMAX_KERNEL,
  SOFTMAX_GRAD_KERNEL,
  type AdamWScalars,
} from '@selfpatch/nn/kernels';
import { SIMD_KERNELS_SHARED_WASM, SIMD_KERNELS_WASM } from './simd-kernels-wasm.js';

interface Exports {
  gelu_fwd(x: number, y: number, n: number): void;
  gelu_bwd(dy: number, x: number, dx: number, n: number): void;
  exp_fwd(x: number, y: number, n: number): void;
  layer_norm_fwd(x: number, w: number, b: number, y: number, rows: number, c: number, eps: number): void;
  layer_norm_bwd(dy: number, x: number, w: number, dx: number, dw: number, db: number, rows: number, c: number, eps: number): void;
  ema_step(t: number, s: number, out: number, n: number, m: number, oneMinusM: number): void;
  column_sum(x: number, out: number, rows: number, cols: number): void;
  transpose_rows(src: number, dst: number, rows: number, cols: number, r0: number, r1: number): void;
  scaled_softmax(s: number, p: number, rows: number, cols: number, scale: number): void;
  softmax_grad(p: number, dp: number, ds: number, rows: number, cols: number, scale: number): void;
  attention_fwd(q: number, k: number, v: number, bias: number, out: number, p: number, keepP: number, scratch: number, first: number, slices: number, groups: number, nq: number, nk: number, d: number, e: number, scale: number): void;
  attention_bwd(q: number, k: number, v: number, p: number, dout: number, dq: number, dk: number, dv: number, scratch: number, first: number, slices: number, groups: number, nq: number, nk: number, d: number, e: number, scale: number): void;
  adamw_step(p: number, g: number, m: number, v: number, po: number, mo: number, vo: number, n: number, ...scalars: number[]): void;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown };

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

function decodeBase64(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Splits elementwise kernel calls over threads (Node with `threads > 1`: simd-threads-node.ts).
 * `run` calls `local(jobs[0])` on this thread and the other jobs on workers, and returns when all
 * are done.
 */
export interface KernelPool {
  readonly size: number;
  run(name: string, jobs: number[][], local: (args: number[]) => void): void;
}

let current: { exports: Exports; memory: WebAssembly.Memory } | null = null;
let pool: KernelPool | null = null;

/** The active module: the own-memory build unless {@link useSharedKernels} switched it. */
function kernelModule(): { exports: Exports; memory: WebAssembly.Memory } {
  if (!current) {
    // Synchronous compilation: the module is ~19 KB; Chromium allows up to 8 MB on a page's main thread.
    const instance = new WebAssembly.Instance(new WebAssembly.Module(decodeBase64(SIMD_KERNELS_WASM)), {});
    current = { exports: instance.exports as unknown as Exports, memory: instance.exports.memory as WebAssembly.Memory };
  }
  return current;
}

function kernels(): Exports {
  return kernelModule().exports;
}

/** The shared-memory build (compiled, not instantiated), for the main thread and kernel workers. */
export function sharedKernelModule(): WebAssembly.Module {
  return new WebAssembly.Module(decodeBase64(SIMD_KERNELS_SHARED_WASM));
}

/**
 * Switches the kernels to the shared-memory build on `memory` and splits large elementwise calls
 * over `kernelPool` (null: back to one thread on the same module).
 */
export function useSharedKernels(module: WebAssembly.Module, memory: WebAssembly.Memory, kernelPool: KernelPool | null): void {
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  current = { exports: instance.exports as unknown as Exports, memory };
  pool = kernelPool;
}

/** Threads the elementwise kernels run on (1 unless {@link useSharedKernels} gave a pool). */
export function simdKernelThreads(): number {
  return pool?.size ?? 1;
}

/** Buffer lengths are padded to 16 floats: the elementwise kernels run four SIMD vectors a step. */
const padded = (n: number): number => Math.ceil(n / 16) * 16;

/**
 * Copies `inputs` into the module's memory, each zero-padded to {@link padded} length, reserves
 * `outputs` after them (zeroed when `zero`, for accumulators) and `scratch` floats after those,
 * calls `kernel` with the addresses (inputs, outputs, then scratch when asked for) and copies the
 * outputs back.
 */
function runInModule(
  inputs: Float32Array[],
  outputs: Array<{ out: Float32Array; zero?: boolean }>,
  kernel: (ptrs: number[]) => void,
  scratch = 0,
): void {
  const k = kernelModule();
  const lengths = [...inputs.map((a) => a.length), ...outputs.map((o) => o.out.length), ...(scratch > 0 ? [scratch] : [])];
  const ptrs: number[] = [];
  // The stack (64 KB) comes first (--stack-first); constants follow. Buffers start at 128 KB.
  let at = 1 << 17;
  for (const n of lengths) {
    ptrs.push(at);
    at += padded(n) * 4;
  }
  const have = k.memory.buffer.byteLength;
  if (at > have) k.memory.grow(Math.ceil((at - have) / 65536));
  const mem = new Float32Array(k.memory.buffer);
  inputs.forEach((a, i) => {
    const p = (ptrs[i] as number) / 4;
    mem.set(a, p);
    mem.fill(0, p + a.length, p + padded(a.length));
  });
  outputs.forEach((o, j) => {
    if (!o.zero) return;
    const p = (ptrs[inputs.length + j] as number) / 4;
    mem.fill(0, p, p + o.out.length);
  });
  kernel(ptrs);
  outputs.forEach((o, j) => o.out.set(new Float32Array(k.memory.buffer, ptrs[inputs.length + j], o.out.length)));
}

/** Elements per call of an elementwise kernel: bounds the module's memory (it never shrinks). */
const CHUNK = 1 << 20;

/** Padded lengths from which a call is split over the pool: below, the hand-off costs more. */
const PARALLEL_MIN = 1 << 16;

type ElementwiseKernel = 'gelu_fwd' | 'gelu_bwd' | 'exp_fwd' | 'adamw_step' | 'ema_step';
type RowKernel = 'transpose_rows' | 'layer_norm_fwd' | 'scaled_softmax' | 'softmax_grad';
type SliceKernel = 'attention_fwd' | 'attention_bwd';

/** Kernels a {@link KernelPool} worker may be asked to run (its mailbox carries the index). */
export const POOL_KERNELS: readonly string[] = [
  'gelu_fwd',
  'gelu_bwd',
  'exp_fwd',
  'adamw_step',
  'ema_step',
  'transpose_rows',
  'layer_norm_fwd',
  'scaled_softmax',
  'softmax_grad',
  'attention_fwd',
  'attention_bwd',
];

/** `name(...ptrs, n, ...scalars)`, over the pool's threads in equal parts when it is large. */
function callSplit(name: ElementwiseKernel, ptrs: number[], n: number, scalars: number[]): void {
  const f = kernels()[name] as unknown as (...args: number[]) => void;
  const parts = pool !== null && n >= PARALLEL_MIN ? pool.size : 1;
  if (parts === 1 || pool === null) {
    f(...ptrs, n, ...scalars);
    return;
  }
  const per = padded(Math.ceil(n / parts));
  const jobs: number[][] = [];
  for (let s = 0; s < n; s += per) jobs.push([...ptrs.map((p) => p + s * 4), Math.min(per, n - s), ...scalars]);
  pool.run(name, jobs, (args) => f(...args));
}

/**
 * A row-wise kernel over `rows` rows of `rowSize` floats: `argsFor(r0, r1)` is the argument list
 * for rows `[r0, r1)`; large calls are split by rows over the pool's threads.
 */
function callRows(name: RowKernel, rows: number, rowSize: number, argsFor: (r0: number, r1: number) => number[]): void {
  const f = kernels()[name] as unknown as (...args: number[]) => void;
  const parts = pool !== null && rows * rowSize >= PARALLEL_MIN ? Math.min(pool.size, rows) : 1;
  if (parts === 1 || pool === null) {
    f(...argsFor(0, rows));
    return;
  }
  const per = Math.ceil(rows / parts);
  const jobs: number[][] = [];
  for (let r = 0; r < rows; r += per) jobs.push(argsFor(r, Math.min(rows, r + per)));
  pool.run(name, jobs, (args) => f(...args));
}

/**
 * `name(...ptrs, ...flags, scratch, first, slices, ...dims)` over `slices` independent slices, split by
 * slices over the pool's threads: `ptrs[i]` advances `perSlice[i]` floats a slice (0: the whole
 * buffer for every slice), `first` is the part's first slice counted from `first0`, and each part
 * gets its own `scratchPer` floats from `scratch` on. Returns the number of parts.
 */
function callSlices(name: SliceKernel, first0: number, slices: number, ptrs: number[], perSlice: number[], scratch: number, scratchPer: number, dims: number[], flags: number[]): number {
  const f = kernels()[name] as unknown as (...args: number[]) => void;
  const parts = pool === null ? 1 : Math.min(pool.size, slices);
  const per = Math.ceil(slices / parts);
  const jobs: number[][] = [];
  for (let s = 0, t = 0; s < slices; s += per, t++) {
    jobs.push([...ptrs.map((p, i) => p + s * (perSlice[i] as number) * 4), ...flags, scratch + t * scratchPer * 4, first0 + s, Math.min(per, slices - s), ...dims]);
  }
  if (jobs.length === 1 || pool === null) f(...(jobs[0] as number[]));
  else pool.run(name, jobs, (args) => f(...args));
  return jobs.length;
}

/** Bytes of module memory one attention call may use, split into runs of slices beyond it. */
const ATTENTION_CHUNK_BYTES = 64 * 2 ** 20;

/**
 * Shapes of an attention call: `slices` of q `[nq, d]`, k `[nk, d]` and v `[nk, e]`; with a bias,
 * `groups` bias matrices `[nq, nk]`, slice `s` taking `s mod groups` (0: no bias).
 */
export interface AttentionDims {
  slices: number;
  nq: number;
  nk: number;
  d: number;
  e: number;
  scale: number;
  groups: number;
}

/**
 * Runs a slice kernel in runs of whole slices that fit {@link ATTENTION_CHUNK_BYTES}: `inputs` and
 * `outputs` hold `perSlice[i]` floats a slice (inputs first; 0: passed whole), and each thread gets
 * `scratchPer` floats. `partial`: each part leaves `into.length` floats at `offset` in its scratch,
 * which are summed into `into` (the bias gradient).
 */
function slicesInChunks(
  name: SliceKernel,
  inputs: Float32Array[],
  outputs: Float32Array[],
  perSlice: number[],
  scratchPer: number,
  dims: AttentionDims,
  partial?: { offset: number; into: Float32Array },
  flags: number[] = [],
): void {
  const { slices, nq, nk, d, e, scale, groups } = dims;
  const threads = simdKernelThreads();
  const sliceBytes = perSlice.reduce((a, b) => a + b, 0) * 4;
  const scratch = padded(scratchPer);
  const chunk = Math.max(1, Math.floor((ATTENTION_CHUNK_BYTES - threads * scratch * 4) / Math.max(sliceBytes, 1)));
  partial?.into.fill(0);
  for (let s0 = 0; s0 < slices; s0 += chunk) {
    const n = Math.min(chunk, slices - s0);
    const part = (a: Float32Array, i: number) => {
      const per = perSlice[i] as number;
      return per === 0 ? a : a.subarray(s0 * per, (s0 + n) * per);
    };
    runInModule(
      inputs.map(part),
      outputs.map((o, j) => ({ out: part(o, inputs.length + j) })),
      (ptrs) => {
        const at = ptrs[ptrs.length - 1] as number;
        const parts = callSlices(name, s0, n, ptrs.slice(0, -1), perSlice, at, scratch, [groups, nq, nk, d, e, scale], flags);
        if (!partial) return;
        const mem = new Float32Array(kernelModule().memory.buffer);
        for (let t = 0; t < parts; t++) {
          const base = (at + t * scratch * 4) / 4 + partial.offset;
          const into = partial.into;
          for (let i = 0; i < into.length; i++) into[i] = (into[i] as number) + (mem[base + i] as number);
        }
      },
      scratch * Math.min(threads, n),
    );
  }
}

/**
 * `p = softmax(q kᵀ·scale + bias[s mod groups])`, `out = p v` per slice `s` (q `[slices, nq, d]`,
 * k `[slices, nk, d]`, v `[slices, nk, e]`, bias `[groups, nq, nk]` (empty when `groups` is 0),
 * p `[slices, nq, nk]`, out `[slices, nq, e]`, all row-major float32). `p` null: not kept (each
 * thread reuses one slice's worth).
 */
export function attentionSimd(q: Float32Array, k: Float32Array, v: Float32Array, bias: Float32Array, out: Float32Array, p: Float32Array | null, dims: AttentionDims): void {
  const { nq, nk, d, e } = dims;
  if (p) slicesInChunks('attention_fwd', [q, k, v, bias], [out, p], [nq * d, nk * d, nk * e, 0, nq * e, nq * nk], d * nk, dims, undefined, [1]);
  else slicesInChunks('attention_fwd', [q, k, v, bias], [out], [nq * d, nk * d, nk * e, 0, nq * e], d * nk + nq * nk, dims, undefined, [0, 0]);
}

/**
 * Gradients of {@link attentionSimd} with respect to q, k, v and (when `dims.groups` > 0) the bias,
 * from `p` and `dout`. `dbias` is summed over the slices of each group.
 */
export function attentionGradSimd(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  p: Float32Array,
  dout: Float32Array,
  dq: Float32Array,
  dk: Float32Array,
  dv: Float32Array,
  dbias: Float32Array | null,
  dims: AttentionDims,
): void {
  const { nq, nk, d, e, groups } = dims;
  const perSlice = [nq * d, nk * d, nk * e, nq * nk, nq * e, nq * d, nk * d, nk * e];
  const own = e * nk + nq * nk;
  const partial = dbias && groups > 0 ? { offset: own, into: dbias } : undefined;
  slicesInChunks('attention_bwd', [q, k, v, p, dout], [dq, dk, dv], perSlice, own + groups * nq * nk, dims, partial);
}

/** Runs an elementwise kernel `name(...ptrs, n, ...scalars)` over equal-length arrays, in chunks. */
function elementwise(name: ElementwiseKernel, inputs: Float32Array[], outputs: Float32Array[], scalars: number[] = []): void {
  const n = outputs[0]?.length ?? 0;
  for (let at = 0; at < n; at += CHUNK) {
    const end = Math.min(n, at + CHUNK);
    runInModule(
      inputs.map((a) => a.subarray(at, end)),
      outputs.map((o) => ({ out: o.subarray(at, end) })),
      (ptrs) => callSplit(name, ptrs, padded(end - at), scalars),
    );
  }
}

/** `y = x·Φ(x)` over a float32 array. */
export function geluSimd(x: Float32Array, y: Float32Array): void {
  elementwise('gelu_fwd', [x], [y]);
}

/** `dx = dy·(Φ(x) + x·φ(x))` over float32 arrays. */
export function geluGradSimd(dy: Float32Array, x: Float32Array, dx: Float32Array): void {
  elementwise('gelu_bwd', [dy, x], [dx]);
}

/** `y = exp(x)` over a float32 array. */
export function expSimd(x: Float32Array, y: Float32Array): void {
  elementwise('exp_fwd', [x], [y]);
}

/** `out[j] = Σ_i x[i·cols + j]` over `rows` rows. */
export function columnSumSimd(x: Float32Array, out: Float32Array, rows: number, cols: number): void {
  runInModule([x], [{ out, zero: true }], ([px, po]) => kernels().column_sum(px as number, po as number, rows, cols));
}

/** Writes the transpose of each `rows × cols` matrix of `src` (a batch of them) to `dst`. */
export function transposeSimd(src: Float32Array, dst: Float32Array, batch: number, rows: number, cols: number): void {
  runInModule([src], [{ out: dst }], ([ps, pd]) => {
    for (let b = 0; b < batch; b++) {
      const off = b * rows * cols * 4;
      callRows('transpose_rows', rows, cols, (r0, r1) => [(ps as number) + off, (pd as number) + off, rows, cols, r0, r1]);
    }
  });
}

/** LayerNorm of `rows` rows of `c` floats: `y = (x − μ)/√(σ² + eps)·w + b`. */
export function layerNormSimd(x: Float32Array, w: Float32Array, b: Float32Array, y: Float32Array, rows: number, c: number, eps: number): void {
  runInModule([x, w, b], [{ out: y }], ([px, pw, pb, py]) =>
    callRows('layer_norm_fwd', rows, c, (r0, r1) => [(px as number) + r0 * c * 4, pw as number, pb as number, (py as number) + r0 * c * 4, r1 - r0, c, eps]),
  );
}

/** Gradients of {@link layerNormSimd}: `dx`, and `dw`, `db` summed over rows. */
export function layerNormGradSimd(
  dy: Float32Array,
  x: Float32Array,
  w: Float32Array,
  dx: Float32Array,
  dw: Float32Array,
  db: Float32Array,
  rows: number,
  c: number,
  eps: number,
): void {
  runInModule([dy, x, w], [{ out: dx }, { out: dw, zero: true }, { out: db, zero: true }], ([pdy, px, pw, pdx, pdw, pdb]) =>
    kernels().layer_norm_bwd(pdy as number, px as number, pw as number, pdx as number, pdw as number, pdb as number, rows, c, eps),
  );
}

function geluKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const x = (inputs as { x: tf.TensorInfo }).x;
  const be = backend as WasmBackendLike;
  const out = be.makeOutput(x.shape, 'float32');
  geluSimd(be.typedArrayFromHeap(x), be.typedArrayFromHeap(out));
  return out;
}

function geluGradKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const { dy, x } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
  const be = backend as WasmBackendLike;
  const out = be.makeOutput(x.shape, 'float32');
  geluGradSimd(be.typedArrayFromHeap(dy), be.typedArrayFromHeap(x), be.typedArrayFromHeap(out));
  return out;
}

/** The stock `Exp` replaced for float32 input (wasm-kernels.ts keeps the stock one for others). */
export function expKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const x = (inputs as { x: tf.TensorInfo }).x;
  const be = backend as WasmBackendLike;
  const out = be.makeOutput(x.shape, 'float32');
  expSimd(be.typedArrayFromHeap(x), be.typedArrayFromHeap(out));
  return out;
}

function adamwKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo[] {
  const { param, grad, expAvg, expAvgSq } = inputs as { param: tf.TensorInfo; grad: tf.TensorInfo; expAvg: tf.TensorInfo; expAvgSq: tf.TensorInfo };
  const a = attrs as unknown as AdamWScalars;
  const be = backend as WasmBackendLike;
  const outs = [be.makeOutput(param.shape, 'float32'), be.makeOutput(param.shape, 'float32'), be.makeOutput(param.shape, 'float32')];
  const [p, g, m, v, po, mo, vo] = [param, grad, expAvg, expAvgSq, ...outs].map((t) => be.typedArrayFromHeap(t)) as Float32Array[];
  elementwise('adamw_step', [p, g, m, v] as Float32Array[], [po, mo, vo] as Float32Array[], [a.decay, a.beta1, 1 - a.beta1, a.beta2, 1 - a.beta2, a.bc2Sqrt, a.eps, a.stepSize]);
  return outs;
}

function emaKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const { teacher, student } = inputs as { teacher: tf.TensorInfo; student: tf.TensorInfo };
  const m = (attrs as unknown as { momentum: number }).momentum;
  const be = backend as WasmBackendLike;
  const out = be.makeOutput(teacher.shape, 'float32');
  const v = (t: tf.TensorInfo) => be.typedArrayFromHeap(t);
  elementwise('ema_step', [v(teacher), v(student)], [v(out)], [m, 1 - m]);
  return out;
}

function lastAxis(x: tf.TensorInfo): { rows: number; c: number } {
  const c = x.shape[x.shape.length - 1] ?? 1;
  return { rows: c === 0 ? 0 : tf.util.sizeFromShape(x.shape) / c, c };
}

/**
 * `name(...rowPtrs, rows, c, ...scalars)` for a kernel whose every buffer is `rows × c` row-major
 * (the softmax pair): copies in, splits by rows over the pool, copies the output back.
 */
function rowMajor(name: 'scaled_softmax' | 'softmax_grad', inputs: Float32Array[], out: Float32Array, rows: number, c: number, scalars: number[]): void {
  runInModule(inputs, [{ out }], (ptrs) => callRows(name, rows, c, (r0, r1) => [...ptrs.map((p) => p + r0 * c * 4), r1 - r0, c, ...scalars]));
}

function scaledSoftmaxKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const x = (inputs as { x: tf.TensorInfo }).x;
  const scale = (attrs as unknown as { scale: number }).scale;
  const be = backend as WasmBackendLike;
  const out = be.makeOutput(x.shape, 'float32');
  const { rows, c } = lastAxis(x);
  rowMajor('scaled_softmax', [be.typedArrayFromHeap(x)], be.typedArrayFromHeap(out), rows, c, [scale]);
  return out;
}

function softmaxGradKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const { p, dp } = inputs as { p: tf.TensorInfo; dp: tf.TensorInfo };
  const scale = (attrs as unknown as { scale: number }).scale;
  const be = backend as WasmBackendLike;
  const out = be.makeOutput(p.shape, 'float32');
  const { rows, c } = lastAxis(p);
  rowMajor('softmax_grad', [be.typedArrayFromHeap(p), be.typedArrayFromHeap(dp)], be.typedArrayFromHeap(out), rows, c, [scale]);
  return out;
}

function attentionDims(q: tf.TensorInfo, k: tf.TensorInfo, v: tf.TensorInfo, groups: number, attrs: tf.NamedAttrMap | undefined): AttentionDims {
  const [slices, nq, d] = q.shape as [number, number, number];
  return { slices, nq, nk: k.shape[1] as number, d, e: v.shape[2] as number, scale: (attrs as unknown as { scale: number }).scale, groups };
}

/**
 * Inputs q, k, v and optionally bias `[groups, nq, nk]`; outputs the attention and, when the
 * `keepP` attr is true, p (for the backward pass).
 */
function attentionKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { q, k, v, bias } = inputs as { q: tf.TensorInfo; k: tf.TensorInfo; v: tf.TensorInfo; bias?: tf.TensorInfo };
  const dims = attentionDims(q, k, v, bias ? (bias.shape[0] as number) : 0, attrs);
  const keepP = (attrs as unknown as { keepP?: boolean }).keepP !== false;
  const be = backend as WasmBackendLike;
  const out = be.makeOutput([dims.slices, dims.nq, dims.e], 'float32');
  const p = keepP ? be.makeOutput([dims.slices, dims.nq, dims.nk], 'float32') : null;
  const a = (t: tf.TensorInfo) => be.typedArrayFromHeap(t);
  attentionSimd(a(q), a(k), a(v), bias ? a(bias) : new Float32Array(0), a(out), p ? a(p) : null, dims);
  return p ? [out, p] : out;
}

/** Inputs q, k, v, p, dy; attr `groups` (the forward's bias groups, 0: none) adds a dbias output. */
function attentionGradKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo[] {
  const { q, k, v, p, dy } = inputs as { q: tf.TensorInfo; k: tf.TensorInfo; v: tf.TensorInfo; p: tf.TensorInfo; dy: tf.TensorInfo };
  const groups = (attrs as unknown as { groups?: number }).groups ?? 0;
  const dims = attentionDims(q, k, v, groups, attrs);
  const be = backend as WasmBackendLike;
  const outs = [be.makeOutput(q.shape, 'float32'), be.makeOutput(k.shape, 'float32'), be.makeOutput(v.shape, 'float32')];
  if (groups > 0) outs.push(be.makeOutput([groups, dims.nq, dims.nk], 'float32'));
  const a = (t: tf.TensorInfo) => be.typedArrayFromHeap(t);
  const [dq, dk, dv, dbias] = outs.map(a) as [Float32Array, Float32Array, Float32Array, Float32Array | undefined];
  attentionGradSimd(a(q), a(k), a(v), a(p), a(dy), dq, dk, dv, dbias ?? null, dims);
  return outs;
}

function layerNormKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const { x, weight, bias } = inputs as { x: tf.TensorInfo; weight: tf.TensorInfo; bias: tf.TensorInfo };
  const eps = (attrs as unknown as { eps: number }).eps;
  const be = backend as WasmBackendLike;
  const out = be.makeOutput(x.shape, 'float32');
  const { rows, c } = lastAxis(x);
  layerNormSimd(be.typedArrayFromHeap(x), be.typedArrayFromHeap(weight), be.typedArrayFromHeap(bias), be.typedArrayFromHeap(out), rows, c, eps);
  return out;
}

function layerNormGradKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo[] {
  const { dy, x, weight } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo; weight: tf.TensorInfo };
  const eps = (attrs as unknown as { eps: number }).eps;
  const be = backend as WasmBackendLike;
  const dx = be.makeOutput(x.shape, 'float32');
  const dw = be.makeOutput(weight.shape, 'float32');
  const db = be.makeOutput(weight.shape, 'float32');
  const { rows, c } = lastAxis(x);
  // Views after all makeOutput calls: allocating may grow (and move) the heap.
  const v = (t: tf.TensorInfo) => be.typedArrayFromHeap(t);
  layerNormGradSimd(v(dy), v(x), v(weight), v(dx), v(dw), v(db), rows, c, eps);
  return [dx, dw, db];
}

const FUSED: Array<[string, (a: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]]> = [
  [GELU_KERNEL, geluKernel],
  [GELU_GRAD_KERNEL, geluGradKernel],
  [LAYER_NORM_KERNEL, layerNormKernel],
  [LAYER_NORM_GRAD_KERNEL, layerNormGradKernel],
  [ADAMW_KERNEL, adamwKernel],
  [EMA_KERNEL, emaKernel],
  [SCALED_SOFTMAX_KERNEL, scaledSoftmaxKernel],
  [SOFTMAX_GRAD_KERNEL, softmaxGradKernel],
  [ATTENTION_KERNEL, attentionKernel],
  [ATTENTION_GRAD_KERNEL, attentionGradKernel],
];

/** Registers the fused kernels (new kernel names) for 'wasm' (idempotent; `installWasmKernels` calls it). */
export function registerSimdKernels(): void {
  if (typeof WebAssembly === 'undefined') return;
  for (const [kernelName, kernelFunc] of FUSED) {
    if (tf.getKernel(kernelName, 'wasm') === undefined) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
}

export function unregisterSimdKernels(): void {
  for (const [name] of FUSED) if (tf.getKernel(name, 'wasm') !== undefined) tf.unregisterKernel(name, 'wasm');
}
