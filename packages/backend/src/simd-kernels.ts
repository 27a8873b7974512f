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
 * - `SelfPatchAttentionQkv`: the same core for inference, read straight from the fused qkv projection
 *   and written in the layout `proj` takes: no permutes or split around it.
 * - `SelfPatchScaledSoftmax`, `SelfPatchSoftmaxGrad`: `softmax(s·scale)` and its gradient, one
 *   kernel each instead of 2 and 5 (the attention core when it returns its probabilities).
 * - `SelfPatchInferenceLinear`: `x Wᵀ + b` in eval mode off the tape, on a weight packed once into
 *   panels of 8 output features and kept in the module (csrc/linear.c, resident-weights.ts); 15-25%
 *   more GFLOP/s than XNNPACK through tfjs on ViT shapes, the bias added for free.
 *   `SelfPatchInferenceLinearGelu` is the same product through exact GELU before the store: an
 *   MLP's first layer and its activation in one pass (no GELU kernel, no copies of its input and
 *   output in and out of the module).
 * - `SelfPatchInferenceBlock` (inference-block.ts): a whole ViT block in eval mode as the kernels
 *   above plus csrc/add.c's residual sums, its activations kept in the module between them.
 * - `SelfPatchNeighborhoodPropagation`: DAVIS label propagation from the dot products inside each
 *   query's neighbourhood window only (csrc/propagation.c), instead of the dense masked affinity
 *   (20 M entries at 480p with 8 contexts) and its ~10 full passes.
 * - `SelfPatchEma`: the momentum teacher's `t·m + s·(1 − m)` in one pass instead of three kernels.
 * - `SelfPatchAdamW`: one AdamW update of a parameter, its two moments in one pass instead of ~12
 *   kernels (the optimizer walks ~150 tensors, 33 M values, for ViT-Ti with the DINO heads).
 *
 * The module has its own linear memory: inputs are copied in and results copied out (a
 * memcpy-speed pass each way), which keeps it independent of tfjs's module layout. The fused block
 * exists to pay that once per block instead of once per kernel.
 *
 * Two builds of the same C: SIMD128, and relaxed SIMD, where every multiply-add is
 * `f32x4.relaxed_madd`, one fused instruction on CPUs with FMA (15-25% more GFLOP/s in the products
 * on an AVX-512 Xeon, in Node 20 and 24). The relaxed build runs wherever the runtime validates it
 * (Chromium 114+, Node 22+; Node 20 with `--experimental-wasm-relaxed-simd`) unless
 * {@link setSimdKernelBuild} asks for SIMD128, whose float operations are the same on every
 * machine (a fused multiply-add rounds once, so results differ in the last bits by CPU).
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
  INFERENCE_LINEAR_KERNEL,
  INFERENCE_LINEAR_GELU_KERNEL,
  ATTENTION_QKV_KERNEL,
  NEIGHBORHOOD_PROPAGATION_KERNEL,
  SCALED_SOFTMAX_KERNEL,
  SOFTMAX_GRAD_KERNEL,
  type AdamWScalars,
} from '@selfpatch/nn/kernels';
import { ConfigError, ShapeError } from '@selfpatch/nn';
import { positional, type EntryArgs, type EntryPoint } from './simd-entry-points.js';
import { SIMD_KERNELS_RELAXED_SHARED_WASM, SIMD_KERNELS_RELAXED_WASM, SIMD_KERNELS_SHARED_WASM, SIMD_KERNELS_WASM } from './simd-kernels-wasm.js';
import { callAreaStart, residentWeight } from './resident-weights.js';

/** The module's exports: every entry point of simd-entry-points.ts (positional numbers) and its memory. */
type Exports = Record<EntryPoint, (...args: number[]) => void>;

export type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown };

export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
  refCount(dataId: object): number;
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
  run(name: EntryPoint, jobs: number[][], local: (args: number[]) => void): void;
}

/** The SIMD kernels' builds: `relaxed-simd` (fused multiply-adds where the CPU has them) or `simd` (SIMD128, the same float operations everywhere). */
export type SimdKernelBuild = 'simd' | 'relaxed-simd';

/** What {@link setSimdKernelBuild} takes: a build, or `auto` (relaxed where the runtime has it). */
export const SIMD_KERNEL_BUILD_CHOICES = ['auto', 'simd', 'relaxed-simd'] as const;

let current: { exports: Exports; memory: WebAssembly.Memory; build: SimdKernelBuild; shared: boolean } | null = null;
let pool: KernelPool | null = null;
let choice: (typeof SIMD_KERNEL_BUILD_CHOICES)[number] = 'auto';
let relaxedValid: boolean | null = null;

function relaxedSupported(): boolean {
  relaxedValid ??= WebAssembly.validate(decodeBase64(SIMD_KERNELS_RELAXED_WASM));
  return relaxedValid;
}

/**
 * The build the kernels run (or will run on first use): the one {@link setSimdKernelBuild} chose,
 * else `relaxed-simd` where this runtime validates relaxed SIMD and `simd` elsewhere.
 *
 * @example
 * ```ts
 * import { simdKernelBuild } from '@selfpatch/backend';
 * console.log(simdKernelBuild()); // 'relaxed-simd' in Chromium 114+ and Node 22+
 * ```
 */
export function simdKernelBuild(): SimdKernelBuild {
  if (current) return current.build;
  if (choice !== 'auto') return choice;
  return relaxedSupported() ? 'relaxed-simd' : 'simd';
}

/**
 * Chooses the kernels' build before they first run (`initBackend`'s `simd` option calls this).
 * `simd` gives the same bits on every CPU; `relaxed-simd` throws a ConfigError where the runtime
 * lacks relaxed SIMD. Switching later drops the single-threaded module (kept weights are packed
 * again on next use); once kernel threads run on the shared module, a different build is refused.
 *
 * @example
 * ```ts
 * import { setSimdKernelBuild } from '@selfpatch/backend';
 * setSimdKernelBuild('simd'); // reproducible to the bit across machines
 * ```
 */
export function setSimdKernelBuild(build: string): SimdKernelBuild {
  if (!(SIMD_KERNEL_BUILD_CHOICES as readonly string[]).includes(build)) {
    throw new ConfigError('simd', `expected one of ${SIMD_KERNEL_BUILD_CHOICES.join(', ')}, got ${JSON.stringify(build)}`);
  }
  if (build === 'relaxed-simd' && !relaxedSupported()) {
    throw new ConfigError('simd', 'this runtime has no WebAssembly relaxed SIMD (Chromium 114+, Node 22+, or Node 20 with --experimental-wasm-relaxed-simd)');
  }
  const before = current;
  current = null;
  choice = build as (typeof SIMD_KERNEL_BUILD_CHOICES)[number];
  const next = simdKernelBuild();
  if (before && before.build !== next && before.shared) {
    current = before;
    choice = before.build;
    throw new ConfigError('simd', `the kernel threads already run the ${before.build} build: choose the build before the wasm backend starts`);
  }
  if (before && before.build === next) current = before;
  return next;
}

/** The active module: the own-memory build unless {@link useSharedKernels} switched it. */
export function kernelModule(): { exports: Exports; memory: WebAssembly.Memory } {
  if (!current) {
    const build = simdKernelBuild();
    // Synchronous compilation: the module is ~33 KB; Chromium allows up to 8 MB on a page's main thread.
    const bytes = decodeBase64(build === 'relaxed-simd' ? SIMD_KERNELS_RELAXED_WASM : SIMD_KERNELS_WASM);
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
    current = { exports: instance.exports as unknown as Exports, memory: instance.exports.memory as WebAssembly.Memory, build, shared: false };
  }
  return current;
}

function kernels(): Exports {
  return kernelModule().exports;
}

/** The shared-memory build (compiled, not instantiated), for the main thread and kernel workers. */
export function sharedKernelModule(): WebAssembly.Module {
  return new WebAssembly.Module(decodeBase64(simdKernelBuild() === 'relaxed-simd' ? SIMD_KERNELS_RELAXED_SHARED_WASM : SIMD_KERNELS_SHARED_WASM));
}

/**
 * Switches the kernels to the shared-memory build on `memory` and splits large elementwise calls
 * over `kernelPool` (null: back to one thread on the same module).
 */
export function useSharedKernels(module: WebAssembly.Module, memory: WebAssembly.Memory, kernelPool: KernelPool | null): void {
  const build = simdKernelBuild();
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  current = { exports: instance.exports as unknown as Exports, memory, build, shared: true };
  pool = kernelPool;
}

/** Threads the elementwise kernels run on (1 unless {@link useSharedKernels} gave a pool). */
export function simdKernelThreads(): number {
  return pool?.size ?? 1;
}

/** Buffer lengths are padded to 16 floats: the elementwise kernels run four SIMD vectors a step. */
export const padded = (n: number): number => Math.ceil(n / 16) * 16;

/**
 * Copies `inputs` into the module's memory, each zero-padded to {@link padded} length, reserves
 * `outputs` after them (zeroed when `zero`, for accumulators) and `scratch` floats after those,
 * calls `kernel` with the addresses (inputs, outputs, then scratch when asked for) and copies the
 * outputs back.
 */
export function runInModule(
  inputs: Float32Array[],
  outputs: Array<{ out: Float32Array; zero?: boolean }>,
  kernel: (ptrs: number[]) => void,
  scratch = 0,
): void {
  const k = kernelModule();
  const lengths = [...inputs.map((a) => a.length), ...outputs.map((o) => o.out.length), ...(scratch > 0 ? [scratch] : [])];
  const ptrs: number[] = [];
  // After the stack (64 KB, --stack-first) and the kept weights (resident-weights.ts).
  let at = callAreaStart(k.memory);
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
export const PARALLEL_MIN = 1 << 16;

/**
 * The one work-splitting rule: runs entry point `name` over units `[0, total)`, in one call, or,
 * when a pool is active and `parallel`, in up to `pool.size` parts of whole `align`-unit runs (this
 * thread takes the first). `argsFor(start, count, part)` names the arguments of each part. Returns
 * the number of parts.
 */
export function runSplit<K extends EntryPoint>(name: K, total: number, parallel: boolean, argsFor: (start: number, count: number, part: number) => EntryArgs<K>, align = 1): number {
  const f = kernels()[name];
  const parts = pool !== null && parallel ? Math.max(1, Math.min(pool.size, Math.ceil(total / align))) : 1;
  const per = Math.max(align, Math.ceil(total / parts / align) * align);
  const jobs: number[][] = [];
  for (let s = 0, t = 0; s < total; s += per, t++) jobs.push(positional(name, argsFor(s, Math.min(per, total - s), t)));
  if (jobs.length === 0) return 0;
  if (jobs.length === 1 || pool === null) f(...(jobs[0] as number[]));
  else pool.run(name, jobs, (args) => f(...args));
  return jobs.length;
}

/** A ShapeError naming the kernel and buffer when `actual` is not `expected` floats. */
function expectLength(kernel: string, buffer: string, actual: number, expected: number): void {
  if (actual !== expected) throw new ShapeError(`${kernel}: ${buffer} holds ${actual} floats, expected ${expected}`);
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

type SliceKernel = 'attention_fwd' | 'attention_bwd';

/**
 * Runs a slice kernel in runs of whole slices that fit {@link ATTENTION_CHUNK_BYTES}, each run split
 * by slices over the pool. `inputs` and `outputs` hold `perSlice[i]` floats a slice (inputs first;
 * 0: passed whole) and each thread gets `scratchPer` floats. `argsFor(ptr, first, slices, scratch)`
 * names one part's arguments, `ptr(i)` being buffer `i` at the part's first slice. `partial`: each
 * part leaves `into.length` floats at `offset` in its scratch, summed into `into` (the bias gradient).
 */
function slicesInChunks<K extends SliceKernel>(
  name: K,
  inputs: Float32Array[],
  outputs: Float32Array[],
  perSlice: number[],
  scratchPer: number,
  slices: number,
  argsFor: (ptr: (i: number) => number, first: number, slices: number, scratch: number) => EntryArgs<K>,
  partial?: { offset: number; into: Float32Array },
): void {
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
        const parts = runSplit(name, n, true, (s, count, t) => argsFor((i) => (ptrs[i] as number) + s * (perSlice[i] as number) * 4, s0 + s, count, at + t * scratch * 4));
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

/** Checks each `[buffer, expected floats]` (null buffers are absent ones). */
export function expectLengths(kernel: string, buffers: Record<string, [Float32Array | null, number]>): void {
  for (const [buffer, [a, n]] of Object.entries(buffers)) if (a) expectLength(kernel, buffer, a.length, n);
}

/**
 * `p = softmax(q kᵀ·scale + bias[s mod groups])`, `out = p v` per slice `s` (q `[slices, nq, d]`,
 * k `[slices, nk, d]`, v `[slices, nk, e]`, bias `[groups, nq, nk]` (empty when `groups` is 0),
 * p `[slices, nq, nk]`, out `[slices, nq, e]`, all row-major float32). `p` null: not kept (each
 * thread reuses one slice's worth).
 */
export function attentionSimd(q: Float32Array, k: Float32Array, v: Float32Array, bias: Float32Array, out: Float32Array, p: Float32Array | null, dims: AttentionDims): void {
  const { slices, nq, nk, d, e, scale, groups } = dims;
  expectLengths('attention', { q: [q, slices * nq * d], k: [k, slices * nk * d], v: [v, slices * nk * e], bias: [bias, groups * nq * nk], out: [out, slices * nq * e], p: [p, slices * nq * nk] });
  const shape = { groups, nq, nk, d, e, scale };
  if (p) {
    slicesInChunks('attention_fwd', [q, k, v, bias], [out, p], [nq * d, nk * d, nk * e, 0, nq * e, nq * nk], d * nk, slices, (ptr, first, count, scratch) => ({
      q: ptr(0), k: ptr(1), v: ptr(2), bias: ptr(3), out: ptr(4), p: ptr(5), keep_p: 1, scratch, first, slices: count, ...shape,
    }));
  } else {
    slicesInChunks('attention_fwd', [q, k, v, bias], [out], [nq * d, nk * d, nk * e, 0, nq * e], d * nk + nq * nk, slices, (ptr, first, count, scratch) => ({
      q: ptr(0), k: ptr(1), v: ptr(2), bias: ptr(3), out: ptr(4), p: 0, keep_p: 0, scratch, first, slices: count, ...shape,
    }));
  }
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
  const { slices, nq, nk, d, e, scale, groups } = dims;
  expectLengths('attention grad', {
    q: [q, slices * nq * d], k: [k, slices * nk * d], v: [v, slices * nk * e], p: [p, slices * nq * nk], dout: [dout, slices * nq * e],
    dq: [dq, slices * nq * d], dk: [dk, slices * nk * d], dv: [dv, slices * nk * e], dbias: [groups > 0 ? dbias : null, groups * nq * nk],
  });
  const perSlice = [nq * d, nk * d, nk * e, nq * nk, nq * e, nq * d, nk * d, nk * e];
  const own = e * nk + nq * nk;
  const partial = dbias && groups > 0 ? { offset: own, into: dbias } : undefined;
  slicesInChunks('attention_bwd', [q, k, v, p, dout], [dq, dk, dv], perSlice, own + groups * nq * nk, slices, (ptr, first, count, scratch) => ({
    q: ptr(0), k: ptr(1), v: ptr(2), p: ptr(3), dout: ptr(4), dq: ptr(5), dk: ptr(6), dv: ptr(7), scratch, first, slices: count, groups, nq, nk, d, e, scale,
  }), partial);
}

type ElementwiseKernel = 'gelu_fwd' | 'gelu_bwd' | 'exp_fwd' | 'adamw_step' | 'ema_step';

/**
 * Runs elementwise kernel `name` over equal-length arrays in chunks; `argsFor(ptr, n)` names one
 * call's arguments, `ptr(i)` being buffer `i` (inputs, then outputs) at the call's first element.
 */
function elementwise<K extends ElementwiseKernel>(name: K, inputs: Float32Array[], outputs: Float32Array[], argsFor: (ptr: (i: number) => number, n: number) => EntryArgs<K>): void {
  const n = outputs[0]?.length ?? 0;
  for (const a of [...inputs, ...outputs]) expectLength(name, 'buffer', a.length, n);
  for (let at = 0; at < n; at += CHUNK) {
    const end = Math.min(n, at + CHUNK);
    const len = padded(end - at);
    runInModule(
      inputs.map((a) => a.subarray(at, end)),
      outputs.map((o) => ({ out: o.subarray(at, end) })),
      (ptrs) => runSplit(name, len, len >= PARALLEL_MIN, (s, count) => argsFor((i) => (ptrs[i] as number) + s * 4, count), 16),
    );
  }
}

/** `y = x·Φ(x)` over a float32 array. */
export function geluSimd(x: Float32Array, y: Float32Array): void {
  elementwise('gelu_fwd', [x], [y], (ptr, n) => ({ x: ptr(0), y: ptr(1), n }));
}

/** `dx = dy·(Φ(x) + x·φ(x))` over float32 arrays. */
export function geluGradSimd(dy: Float32Array, x: Float32Array, dx: Float32Array): void {
  elementwise('gelu_bwd', [dy, x], [dx], (ptr, n) => ({ dy: ptr(0), x: ptr(1), dx: ptr(2), n }));
}

/** `y = exp(x)` over a float32 array. */
export function expSimd(x: Float32Array, y: Float32Array): void {
  elementwise('exp_fwd', [x], [y], (ptr, n) => ({ x: ptr(0), y: ptr(1), n }));
}

/** `out[j] = Σ_i x[i·cols + j]` over `rows` rows. */
export function columnSumSimd(x: Float32Array, out: Float32Array, rows: number, cols: number): void {
  expectLengths('column sum', { x: [x, rows * cols], out: [out, cols] });
  runInModule([x], [{ out, zero: true }], ([px, po]) => runSplit('column_sum', 1, false, () => ({ x: px as number, out: po as number, rows, cols })));
}

/** Writes the transpose of each `rows × cols` matrix of `src` (a batch of them) to `dst`. */
export function transposeSimd(src: Float32Array, dst: Float32Array, batch: number, rows: number, cols: number): void {
  expectLengths('transpose', { src: [src, batch * rows * cols], dst: [dst, batch * rows * cols] });
  runInModule([src], [{ out: dst }], ([ps, pd]) => {
    for (let b = 0; b < batch; b++) {
      const off = b * rows * cols * 4;
      runSplit('transpose_rows', rows, rows * cols >= PARALLEL_MIN, (r0, count) => ({ src: (ps as number) + off, dst: (pd as number) + off, rows, cols, r0, r1: r0 + count }));
    }
  });
}

/** LayerNorm of `rows` rows of `c` floats: `y = (x − μ)/√(σ² + eps)·w + b`. */
export function layerNormSimd(x: Float32Array, w: Float32Array, b: Float32Array, y: Float32Array, rows: number, c: number, eps: number): void {
  expectLengths('layer norm', { x: [x, rows * c], y: [y, rows * c], weight: [w, c], bias: [b, c] });
  runInModule([x, w, b], [{ out: y }], ([px, pw, pb, py]) =>
    runSplit('layer_norm_fwd', rows, rows * c >= PARALLEL_MIN, (r0, count) => ({ x: (px as number) + r0 * c * 4, w: pw as number, b: pb as number, y: (py as number) + r0 * c * 4, rows: count, c, eps })),
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
  expectLengths('layer norm grad', { dy: [dy, rows * c], x: [x, rows * c], dx: [dx, rows * c], weight: [w, c], dw: [dw, c], db: [db, c] });
  // One thread: dw and db are sums over every row.
  runInModule([dy, x, w], [{ out: dx }, { out: dw, zero: true }, { out: db, zero: true }], ([pdy, px, pw, pdx, pdw, pdb]) =>
    runSplit('layer_norm_bwd', 1, false, () => ({ dy: pdy as number, x: px as number, w: pw as number, dx: pdx as number, dw: pdw as number, db: pdb as number, rows, c, eps })),
  );
}

/** Output features per panel of a packed weight (csrc/linear.c). */
const PANEL = 8;

/** The tile's bias: `bias`, or zeros (the tile always adds one). runInModule zero-pads it to 16 floats, so the last panel's 8 lanes are in bounds. */
export const tileBias = (bias: Float32Array | null, n: number): Float32Array => bias ?? new Float32Array(n);

/**
 * csrc/linear.c's tile over module pointers: `y [m, n] = x [m, k] · packed panels + bias`, split
 * by panels. Threads only for large products: a hand-off costs about as much as an 8-row product.
 */
export function runTile(ptrs: { x: number; bp: number; bias: number; y: number }, m: number, n: number, k: number, gelu = false): void {
  runSplit('linear_fwd', Math.ceil(n / PANEL), m * n * k >= 1 << 25, (p0, count) => ({ ...ptrs, m, n, k, p0, p1: p0 + count, gelu: gelu ? 1 : 0 }));
}

/** Floats of `weight [n, k]` in csrc/linear.c's packed layout. */
export function packedLength(n: number, k: number): number {
  return Math.ceil(n / PANEL) * PANEL * k;
}

/**
 * Writes `weight [n, k]` (row-major) into `out` in csrc/linear.c's layout: panel `p` holds
 * `W[8p + c, kk]` at `p·k·8 + kk·8 + c`, zero past `n`.
 */
export function packLinearWeightSimd(w: Float32Array, n: number, k: number, out: Float32Array = new Float32Array(packedLength(n, k))): Float32Array {
  expectLengths('linear pack', { weight: [w, n * k], packed: [out, packedLength(n, k)] });
  // The last panel's rows past n are zero (out may be reused memory).
  out.fill(0, Math.floor((n - 1) / PANEL) * PANEL * k);
  for (let r = 0; r < n; r++) {
    const base = Math.floor(r / PANEL) * PANEL * k + (r % PANEL);
    const row = r * k;
    for (let kk = 0; kk < k; kk++) out[base + kk * PANEL] = w[row + kk] as number;
  }
  return out;
}

/**
 * `y [m, n] = x [m, k] · Wᵀ + bias` (`weight [n, k]`; `bias` null adds nothing), through exact
 * GELU when `dims.gelu`. With a `key` (the weight's tfjs dataId) and `alive` (whether tfjs still
 * holds it), the packed weight is kept in the module between calls (resident-weights.ts).
 */
export function linearSimd(
  x: Float32Array,
  weight: Float32Array,
  bias: Float32Array | null,
  y: Float32Array,
  dims: { m: number; n: number; k: number; gelu?: boolean },
  keep?: { key: object; alive: (key: object) => boolean },
): void {
  const { m, n, k, gelu = false } = dims;
  expectLengths('linear', { x: [x, m * k], weight: [weight, n * k], y: [y, m * n], bias: [bias, n] });
  const memory = kernelModule().memory;
  const kept = keep ? residentWeight(memory, keep.key, packedLength(n, k), keep.alive, (dst) => packLinearWeightSimd(weight, n, k, dst)) : null;
  const b = tileBias(bias, n);
  const inputs = kept === null ? [x, b, packLinearWeightSimd(weight, n, k)] : [x, b];
  runInModule(inputs, [{ out: y }], (ptrs) => {
    const [px, pb, py, pw] = kept === null ? [ptrs[0], ptrs[1], ptrs[3], ptrs[2]] : [ptrs[0], ptrs[1], ptrs[2], kept];
    runTile({ x: px as number, bp: pw as number, bias: pb as number, y: py as number }, m, n, k, gelu);
  });
}

let matMulCalls = 0;

/** Products {@link matMulSimd} has run in this process (tests check which path a tfjs product took). */
export function matMulSimdCalls(): number {
  return matMulCalls;
}

/** Most bytes one product may take in the kernel module (inputs, packed B, output); larger ones stay on XNNPACK. */
const MATMUL_MODULE_BYTES = 512 * 2 ** 20;

/** Whether {@link matMulSimd} takes a product of these sizes (the module's memory never shrinks). */
export function matMulSimdFits(m: number, k: number, n: number, bias: boolean): boolean {
  return (m * k + k * n + packedLength(n, k) + m * n + (bias ? n : 0)) * 4 <= MATMUL_MODULE_BYTES;
}

/**
 * `c [m, n] = a [m, k] · b [k, n] (+ bias [n])`, every operand row-major: `b` packed into panels
 * of 8 columns inside the module (csrc/linear.c, pack_cols: one pass over b), then
 * {@link linearSimd}'s tile. For products whose right operand changes from call to call (training
 * weights, gradients, activations), where nothing is kept.
 */
export function matMulSimd(a: Float32Array, b: Float32Array, bias: Float32Array | null, c: Float32Array, dims: { m: number; k: number; n: number }): void {
  const { m, k, n } = dims;
  matMulCalls++;
  expectLengths('matMul', { a: [a, m * k], b: [b, k * n], c: [c, m * n], bias: [bias, n] });
  runInModule(
    [a, b, tileBias(bias, n)],
    [{ out: c }],
    ([pa, pb, pbias, pc, packed]) => {
      runSplit('pack_cols', 1, false, () => ({ b: pb as number, bp: packed as number, k, n }));
      runTile({ x: pa as number, bp: packed as number, bias: pbias as number, y: pc as number }, m, n, k);
    },
    packedLength(n, k),
  );
}

/** `x Wᵀ + b` (INFERENCE_LINEAR_KERNEL), or `gelu(x Wᵀ + b)` (INFERENCE_LINEAR_GELU_KERNEL). */
function inferenceLinearKernel({ inputs, backend }: KernelArgs, gelu = false): tf.TensorInfo {
  const { x, weight, bias } = inputs as { x: tf.TensorInfo; weight: tf.TensorInfo; bias?: tf.TensorInfo };
  if (x.shape.length !== 2 || weight.shape.length !== 2 || x.shape[1] !== weight.shape[1]) {
    const name = gelu ? INFERENCE_LINEAR_GELU_KERNEL : INFERENCE_LINEAR_KERNEL;
    throw new ShapeError(`${name}: expected x [rows, in] and weight [out, in], got [${x.shape.join(',')}] and [${weight.shape.join(',')}]`);
  }
  const [m, k] = x.shape as [number, number];
  const n = weight.shape[0] as number;
  const be = backend as WasmBackendLike;
  const out = be.makeOutput([m, n], 'float32');
  // Views after makeOutput: allocating may grow (and move) the heap.
  const v = (t: tf.TensorInfo) => be.typedArrayFromHeap(t);
  linearSimd(v(x), v(weight), bias ? v(bias) : null, v(out), { m, n, k, gelu }, { key: weight.dataId as object, alive: (key) => be.refCount(key) > 0 });
  return out;
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
  elementwise('adamw_step', [p, g, m, v] as Float32Array[], [po, mo, vo] as Float32Array[], (ptr, n) => ({
    p: ptr(0), g: ptr(1), m: ptr(2), v: ptr(3), po: ptr(4), mo: ptr(5), vo: ptr(6), n,
    decay: a.decay, b1: a.beta1, one_minus_b1: 1 - a.beta1, b2: a.beta2, one_minus_b2: 1 - a.beta2, bc2_sqrt: a.bc2Sqrt, eps: a.eps, step_size: a.stepSize,
  }));
  return outs;
}

function emaKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const { teacher, student } = inputs as { teacher: tf.TensorInfo; student: tf.TensorInfo };
  const m = (attrs as unknown as { momentum: number }).momentum;
  const be = backend as WasmBackendLike;
  const out = be.makeOutput(teacher.shape, 'float32');
  const v = (t: tf.TensorInfo) => be.typedArrayFromHeap(t);
  elementwise('ema_step', [v(teacher), v(student)], [v(out)], (ptr, n) => ({ t: ptr(0), s: ptr(1), out: ptr(2), n, m, one_minus_m: 1 - m }));
  return out;
}

function lastAxis(x: tf.TensorInfo): { rows: number; c: number } {
  const c = x.shape[x.shape.length - 1] ?? 1;
  return { rows: c === 0 ? 0 : tf.util.sizeFromShape(x.shape) / c, c };
}

function scaledSoftmaxKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const x = (inputs as { x: tf.TensorInfo }).x;
  const scale = (attrs as unknown as { scale: number }).scale;
  const be = backend as WasmBackendLike;
  const out = be.makeOutput(x.shape, 'float32');
  const { rows, c } = lastAxis(x);
  runInModule([be.typedArrayFromHeap(x)], [{ out: be.typedArrayFromHeap(out) }], ([ps, pp]) =>
    runSplit('scaled_softmax', rows, rows * c >= PARALLEL_MIN, (r0, count) => ({ s: (ps as number) + r0 * c * 4, p: (pp as number) + r0 * c * 4, rows: count, cols: c, scale })),
  );
  return out;
}

function softmaxGradKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const { p, dp } = inputs as { p: tf.TensorInfo; dp: tf.TensorInfo };
  const scale = (attrs as unknown as { scale: number }).scale;
  const be = backend as WasmBackendLike;
  const out = be.makeOutput(p.shape, 'float32');
  const { rows, c } = lastAxis(p);
  runInModule([be.typedArrayFromHeap(p), be.typedArrayFromHeap(dp)], [{ out: be.typedArrayFromHeap(out) }], ([pp, pdp, pds]) =>
    runSplit('softmax_grad', rows, rows * c >= PARALLEL_MIN, (r0, count) => ({ p: (pp as number) + r0 * c * 4, dp: (pdp as number) + r0 * c * 4, ds: (pds as number) + r0 * c * 4, rows: count, cols: c, scale })),
  );
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
/**
 * `softmax(q kᵀ·scale) v` per head, read from the fused projection `qkv [batches, n, 3·heads·d]`
 * and written as `out [batches, n, heads·d]` (csrc/attention.c, attention_qkv_fwd); inference only
 * (no probabilities kept). Runs of whole batch elements bound the module memory; threads take
 * (batch, head) slices.
 */
/**
 * Query rows per block in attention_qkv_fwd: 16 rows of scores at 1 591 keys (DAVIS 480p) are
 * 100 KB, inside L2 with the packed k and v. 16, 32 and 128 measured within noise of each other
 * (Intel Xeon, 1 591 and 197 tokens); whole n × n scores were 20% slower at 1 591.
 */
export const ATTENTION_QKV_ROWS = 16;

export function attentionQkvSimd(qkv: Float32Array, out: Float32Array, dims: { batches: number; heads: number; n: number; d: number; scale: number }): void {
  const { batches, heads, n, d, scale } = dims;
  const c = heads * d;
  expectLengths('attention qkv', { qkv: [qkv, batches * n * 3 * c], out: [out, batches * n * c] });
  const rows = Math.min(n, ATTENTION_QKV_ROWS);
  const scratch = padded(2 * d * n + rows * n);
  const threads = simdKernelThreads();
  const chunk = Math.max(1, Math.floor((ATTENTION_CHUNK_BYTES - threads * scratch * 4) / (n * 4 * c * 4)));
  for (let b0 = 0; b0 < batches; b0 += chunk) {
    const nb = Math.min(chunk, batches - b0);
    runInModule(
      [qkv.subarray(b0 * n * 3 * c, (b0 + nb) * n * 3 * c)],
      [{ out: out.subarray(b0 * n * c, (b0 + nb) * n * c) }],
      ([pq, po, at]) =>
        runSplit('attention_qkv_fwd', nb * heads, true, (first, count, t) => ({
          qkv: pq as number, out: po as number, scratch: (at as number) + t * scratch * 4, first, slices: count, heads, n, d, rows, scale,
        })),
      scratch * Math.min(threads, nb * heads),
    );
  }
}

function attentionQkvKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const { qkv } = inputs as { qkv: tf.TensorInfo };
  const { heads, scale } = attrs as unknown as { heads: number; scale: number };
  const [batches, n, c3] = qkv.shape as [number, number, number];
  if (qkv.shape.length !== 3 || c3 % (3 * heads) !== 0) {
    throw new ShapeError(`${ATTENTION_QKV_KERNEL}: qkv must be [batches, n, 3·heads·d] with ${heads} heads, got [${qkv.shape.join(',')}]`);
  }
  const d = c3 / 3 / heads;
  const be = backend as WasmBackendLike;
  const out = be.makeOutput([batches, n, heads * d], 'float32');
  attentionQkvSimd(be.typedArrayFromHeap(qkv), be.typedArrayFromHeap(out), { batches, heads, n, d, scale });
  return out;
}

/** Shapes and settings of one {@link neighborhoodPropagationSimd} call. */
export interface NeighborhoodPropagationDims {
  /** Feature grid (hw = h·w patches per frame). */
  h: number;
  w: number;
  /** Context frames n. */
  contexts: number;
  /** Feature width C. */
  c: number;
  /** Mask classes K. */
  classes: number;
  /** Window radius in grid cells; 0: the whole grid. */
  radius: number;
  topk: number;
  temperature: number;
}

/** Most bytes one propagation call may take in the kernel module (sources twice, packed and not). */
const PROPAGATION_MODULE_BYTES = 768 * 2 ** 20;

/**
 * `out [K, hw]` = the soft mask label propagation gives the target: `t [hw, C]` and `fs [C, n·hw]`
 * L2-normalised, `segs [K, n·hw]` (contexts side by side, in the same order as fs's columns).
 * Sources are packed per grid row into panels of 8 (csrc/propagation.c, pack_grid_panels), then
 * each block of 4 queries takes the dot products of its window only; threads take grid rows.
 */
export function neighborhoodPropagationSimd(t: Float32Array, fs: Float32Array, segs: Float32Array, out: Float32Array, dims: NeighborhoodPropagationDims): void {
  const { h, w, contexts: n, c, classes: k, topk, temperature } = dims;
  const hw = h * w;
  expectLengths('neighborhood propagation', { target: [t, hw * c], sources: [fs, c * n * hw], segs: [segs, k * n * hw], out: [out, k * hw] });
  if (!(Number.isInteger(topk) && topk >= 1 && topk <= n * hw)) throw new ConfigError('topk', `must be in 1..${n * hw}, got ${topk}`);
  // The window of a radius beyond the grid is the grid: the same as no restriction.
  const r = dims.radius > 0 ? Math.min(dims.radius, Math.max(h, w)) : Math.max(h, w);
  const panels = Math.ceil(w / PANEL);
  const packed = padded(n * h * panels * PANEL * c);
  const perQuery = n * Math.min(h, 2 * r + 1) * PANEL * Math.min(panels, Math.floor((2 * r + 3) / PANEL) + 2);
  const scratch = padded(4 * c + (4 * Math.ceil(w / 4) + 2) * perQuery + topk);
  const threads = Math.min(simdKernelThreads(), h);
  const bytes = (t.length + 2 * fs.length + segs.length + out.length + threads * scratch) * 4;
  if (bytes > PROPAGATION_MODULE_BYTES) {
    throw new ShapeError(`neighborhood propagation: ${n} contexts of a ${h}x${w} grid with C = ${c} need ${(bytes / 2 ** 20).toFixed(0)} MB of kernel memory (at most ${PROPAGATION_MODULE_BYTES / 2 ** 20})`);
  }
  runInModule(
    [t, fs, segs],
    [{ out }],
    ([pt, pfs, psegs, pout, at]) => {
      // One int flag (16 floats keep what follows aligned), then the packed sources.
      const flag = at as number;
      const fsp = flag + 64;
      new Int32Array(kernelModule().memory.buffer, flag, 1)[0] = 0;
      runSplit('pack_grid_panels', n * h, true, (u0, count) => ({ fs: pfs as number, fsp, c, ctx: n, h, w, u0, u1: u0 + count, nan_flag: flag }));
      // A NaN source makes every query's dense affinity column hold NaN (NaN · mask 0 is NaN), so
      // the reference's whole mask is NaN; the windows alone would not see it (a NaN target row
      // is seen by its own window).
      const memory = kernelModule().memory.buffer;
      if (new Int32Array(memory, flag, 1)[0] !== 0) {
        new Float32Array(memory, pout as number, out.length).fill(NaN);
        return;
      }
      const own = fsp + packed * 4;
      runSplit('neighborhood_propagate', h, true, (r0, count, part) => ({
        t: pt as number, fsp, segs: psegs as number, out: pout as number, scratch: own + part * scratch * 4,
        h, w, ctx: n, c, k_cls: k, radius: r, topk, tau: temperature, r0, r1: r0 + count,
      }));
    },
    16 + packed + threads * scratch,
  );
}

function neighborhoodPropagationKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const { target, sources, segs } = inputs as { target: tf.TensorInfo; sources: tf.TensorInfo; segs: tf.TensorInfo };
  const { h, w, radius, topk, temperature } = attrs as unknown as { h: number; w: number; radius: number; topk: number; temperature: number };
  const hw = h * w;
  const [rows, c] = target.shape as [number, number];
  const n = (sources.shape[1] as number) / hw;
  const k = segs.shape[0] as number;
  if (target.shape.length !== 2 || rows !== hw || sources.shape.length !== 2 || sources.shape[0] !== c || !Number.isInteger(n) || n < 1 || segs.shape.length !== 2 || segs.shape[1] !== n * hw) {
    throw new ShapeError(
      `${NEIGHBORHOOD_PROPAGATION_KERNEL}: expected target [${hw}, C], sources [C, n·${hw}] and segs [K, n·${hw}] for a ${h}x${w} grid, got [${target.shape.join(',')}], [${sources.shape.join(',')}], [${segs.shape.join(',')}]`,
    );
  }
  const be = backend as WasmBackendLike;
  const out = be.makeOutput([k, hw], 'float32');
  const v = (x: tf.TensorInfo) => be.typedArrayFromHeap(x);
  neighborhoodPropagationSimd(v(target), v(sources), v(segs), v(out), { h, w, contexts: n, c, classes: k, radius, topk, temperature });
  return out;
}

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

/** The fused kernels defined here, by kernel name (simd-kernel-registry.ts registers them). */
export const SIMD_KERNELS: Array<[string, (a: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]]> = [
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
  [INFERENCE_LINEAR_KERNEL, (a) => inferenceLinearKernel(a)],
  [INFERENCE_LINEAR_GELU_KERNEL, (a) => inferenceLinearKernel(a, true)],
  [ATTENTION_QKV_KERNEL, attentionQkvKernel],
  [NEIGHBORHOOD_PROPAGATION_KERNEL, neighborhoodPropagationKernel],
];
