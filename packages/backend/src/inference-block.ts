/**
 * `SelfPatchInferenceBlock` on tfjs-backend-wasm: a whole pre-norm ViT block in eval mode,
 * `y = x + proj(attn(norm1(x)))`, `out = y + fc2(gelu(fc1(norm2(y))))`, run as the same SIMD
 * kernels the op-by-op path calls (csrc/layer-norm.c, linear.c, attention.c, add.c), in the same
 * order and split over threads the same way, so the output is the same bits. What changes is
 * where the activations live: the op-by-op path copies every kernel's inputs into the kernel
 * module and its outputs back to tfjs's heap (seven kernels and two tfjs Adds a block, ~60 MB of
 * copies per ViT-S/16 block at 480×832, ~1.7 s of a 60 s one-thread DAVIS run); here only the
 * block's input goes in and its output comes out.
 *
 * Module memory per batch element: N·(4C + max(3C, hidden)) floats plus attention scratch per
 * thread. Batches go in runs that fit {@link BLOCK_MODULE_BYTES}; rows are independent across
 * batch elements, so runs do not change the result.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { INFERENCE_BLOCK_KERNEL } from '@selfpatch/nn/kernels';
import { ShapeError } from '@selfpatch/nn';
import { residentWeight } from './resident-weights.js';
import {
  ATTENTION_QKV_ROWS,
  PARALLEL_MIN,
  expectLengths,
  kernelModule,
  packLinearWeightSimd,
  packedLength,
  padded,
  runInModule,
  runSplit,
  runTile,
  simdKernelThreads,
  tileBias,
  type KernelArgs,
  type WasmBackendLike,
} from './simd-kernels.js';

/** Most bytes one run of batch elements may take in the kernel module (at least one element runs). */
const BLOCK_MODULE_BYTES = 256 * 2 ** 20;

/** A Linear's weight `[n, k]` and bias, with the weight's tfjs dataId to keep it packed under. */
interface BlockLinear {
  weight: Float32Array;
  bias: Float32Array | null;
  key: object;
}

/** The block's parameters as heap views (LayerNorm `[C]`, Linear weights `[out, in]`). */
export interface BlockParams {
  norm1: { weight: Float32Array; bias: Float32Array };
  qkv: BlockLinear;
  proj: BlockLinear;
  norm2: { weight: Float32Array; bias: Float32Array };
  fc1: BlockLinear;
  fc2: BlockLinear;
}

/** Shapes and settings of one block call. */
export interface BlockDims {
  batches: number;
  n: number;
  c: number;
  hidden: number;
  heads: number;
  scale: number;
  eps1: number;
  eps2: number;
}

/**
 * `out [batches, n, c]` = the block applied to `x [batches, n, c]`. `alive(key)` says whether tfjs
 * still holds a weight (for the kept packed copies, resident-weights.ts).
 */
export function inferenceBlockSimd(x: Float32Array, p: BlockParams, out: Float32Array, dims: BlockDims, alive: (key: object) => boolean): void {
  const { batches, n, c, hidden, heads } = dims;
  const d = c / heads;
  expectLengths('inference block', {
    x: [x, batches * n * c],
    out: [out, batches * n * c],
    'norm1.weight': [p.norm1.weight, c],
    'norm1.bias': [p.norm1.bias, c],
    'qkv.weight': [p.qkv.weight, 3 * c * c],
    'qkv.bias': [p.qkv.bias, 3 * c],
    'proj.weight': [p.proj.weight, c * c],
    'proj.bias': [p.proj.bias, c],
    'norm2.weight': [p.norm2.weight, c],
    'norm2.bias': [p.norm2.bias, c],
    'fc1.weight': [p.fc1.weight, hidden * c],
    'fc1.bias': [p.fc1.bias, hidden],
    'fc2.weight': [p.fc2.weight, c * hidden],
    'fc2.bias': [p.fc2.bias, c],
  });
  const linears: Array<[BlockLinear, number, number]> = [
    [p.qkv, 3 * c, c],
    [p.proj, c, c],
    [p.fc1, hidden, c],
    [p.fc2, c, hidden],
  ];
  const memory = kernelModule().memory;
  const keep = (l: BlockLinear, outF: number, inF: number): number | null =>
    residentWeight(memory, l.key, packedLength(outF, inF), alive, (dst) => packLinearWeightSimd(l.weight, outF, inF, dst));
  // Keeping a later weight may compact the arena and move an earlier one: ask again (hits only).
  const first = linears.map(([l, o, i]) => keep(l, o, i));
  const kept = linears.map(([l, o, i], j) => (first[j] === null ? null : keep(l, o, i)));
  // Weights the arena has no room for go in with each call, packed.
  const packedInputs = linears.flatMap(([l, o, i], j) => (kept[j] === null ? [packLinearWeightSimd(l.weight, o, i)] : []));
  const params = [p.norm1.weight, p.norm1.bias, p.norm2.weight, p.norm2.bias, ...linears.map(([l, o]) => tileBias(l.bias, o))];

  const rows = Math.min(n, ATTENTION_QKV_ROWS);
  const attnScratch = padded(2 * d * n + rows * n);
  const wide = Math.max(3 * c, hidden);
  const perBatch = n * (4 * c + wide) * 4;
  const runLength = Math.max(1, Math.floor((BLOCK_MODULE_BYTES - simdKernelThreads() * attnScratch * 4) / perBatch));
  for (let b0 = 0; b0 < batches; b0 += runLength) {
    const nb = Math.min(runLength, batches - b0);
    const m = nb * n;
    const t = padded(m * c);
    const threads = Math.min(simdKernelThreads(), nb * heads);
    runInModule(
      [x.subarray(b0 * n * c, (b0 + nb) * n * c), ...params, ...packedInputs],
      [{ out: out.subarray(b0 * n * c, (b0 + nb) * n * c) }],
      (ptrs) => {
        const at = (i: number): number => ptrs[i] as number;
        // Inputs in the order passed: x, the LayerNorm parameters, the four biases, unkept weights.
        const [px, n1w, n1b, n2w, n2b, bQkv, bProj, bFc1, bFc2] = ptrs as [number, number, number, number, number, number, number, number, number];
        let next = 9;
        const panels = kept.map((k) => k ?? at(next++)) as [number, number, number, number];
        const po = at(next++);
        // Scratch: t [m, c] (LayerNorm and attention outputs), wide [m, max(3c, hidden)] (qkv, the
        // MLP's hidden layer), y [m, c] (after the first residual sum), then attention scratch.
        const pt = at(next);
        const pwide = pt + t * 4;
        const py = pwide + padded(m * wide) * 4;
        const pscratch = py + t * 4;
        const layerNorm = (src: number, w: number, b: number, dst: number, eps: number) =>
          runSplit('layer_norm_fwd', m, m * c >= PARALLEL_MIN, (r0, count) => ({ x: src + r0 * c * 4, w, b, y: dst + r0 * c * 4, rows: count, c, eps }));
        const add = (a: number, b: number, dst: number) =>
          runSplit('add_fwd', m * c, m * c >= PARALLEL_MIN, (s, count) => ({ a: a + s * 4, b: b + s * 4, out: dst + s * 4, n: count }), 16);

        layerNorm(px, n1w, n1b, pt, dims.eps1);
        runTile({ x: pt, bp: panels[0], bias: bQkv, y: pwide }, m, 3 * c, c);
        runSplit('attention_qkv_fwd', nb * heads, true, (firstSlice, count, part) => ({
          qkv: pwide, out: pt, scratch: pscratch + part * attnScratch * 4, first: firstSlice, slices: count, heads, n, d, rows, scale: dims.scale,
        }));
        runTile({ x: pt, bp: panels[1], bias: bProj, y: pwide }, m, c, c);
        add(px, pwide, py);
        layerNorm(py, n2w, n2b, pt, dims.eps2);
        runTile({ x: pt, bp: panels[2], bias: bFc1, y: pwide }, m, hidden, c, true);
        runTile({ x: pwide, bp: panels[3], bias: bFc2, y: pt }, m, c, hidden);
        add(py, pt, po);
      },
      padded(m * c) * 2 + padded(m * wide) + attnScratch * threads,
    );
  }
}

/** The kernel: `INFERENCE_BLOCK_KERNEL`'s inputs and attrs (see `@selfpatch/nn/kernels`). */
function inferenceBlockKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const i = inputs as Record<string, tf.TensorInfo | undefined>;
  const { heads, scale, eps1, eps2 } = attrs as unknown as { heads: number; scale: number; eps1: number; eps2: number };
  const x = i['x'];
  if (!x || x.shape.length !== 3) throw new ShapeError(`${INFERENCE_BLOCK_KERNEL}: x must be [batch, n, C], got [${x?.shape.join(',') ?? ''}]`);
  const [batches, n, c] = x.shape as [number, number, number];
  const required = (name: string): tf.TensorInfo => {
    const t = i[name];
    if (!t) throw new ShapeError(`${INFERENCE_BLOCK_KERNEL}: input ${name} is missing`);
    return t;
  };
  if (c % heads !== 0) throw new ShapeError(`${INFERENCE_BLOCK_KERNEL}: ${heads} heads do not divide the width ${c}`);
  const hidden = required('fc1Weight').shape[0] as number;
  const be = backend as WasmBackendLike;
  const out = be.makeOutput([batches, n, c], 'float32');
  // Views after makeOutput: allocating may grow (and move) the heap.
  const v = (name: string): Float32Array => be.typedArrayFromHeap(required(name));
  const opt = (name: string): Float32Array | null => (i[name] ? be.typedArrayFromHeap(i[name] as tf.TensorInfo) : null);
  const linear = (name: string): BlockLinear => ({ weight: v(`${name}Weight`), bias: opt(`${name}Bias`), key: required(`${name}Weight`).dataId as object });
  inferenceBlockSimd(
    be.typedArrayFromHeap(x),
    {
      norm1: { weight: v('norm1Weight'), bias: v('norm1Bias') },
      qkv: linear('qkv'),
      proj: linear('proj'),
      norm2: { weight: v('norm2Weight'), bias: v('norm2Bias') },
      fc1: linear('fc1'),
      fc2: linear('fc2'),
    },
    be.typedArrayFromHeap(out),
    { batches, n, c, hidden, heads, scale, eps1, eps2 },
    (key) => be.refCount(key) > 0,
  );
  return out;
}

/** The kernel's registration entry (simd-kernel-registry.ts registers it with the other SIMD kernels). */
export const INFERENCE_BLOCK: [string, (a: KernelArgs) => tf.TensorInfo] = [INFERENCE_BLOCK_KERNEL, inferenceBlockKernel];
