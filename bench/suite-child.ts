/**
 * One tfjs measurement of `bench/suite.ts` in its own process (a wasm backend is set up once per
 * process, and the heap never shrinks). Prints one JSON line. `BENCH_BACKEND` picks the backend.
 *
 *   suite-child.ts THREADS matmul N REPEATS
 *   suite-child.ts THREADS forward ARCH BATCH SIZE REPEATS
 *   suite-child.ts THREADS step ARCH BATCH LOCAL STEPS MICRO [OUT_DIM PATCH_OUT_DIM]
 *   suite-child.ts THREADS check WEIGHTS.pth INPUTS.pth ARCH_JSON   (writes, for the torch check)
 *   suite-child.ts THREADS profile ARCH BATCH LOCAL MICRO            (tf.profile of one step)
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@selfpatch/backend';
import { Rng } from '@selfpatch/nn';
import { uninstallTensorflowKernels, uninstallWasmKernels } from '@selfpatch/backend';
import { VisionTransformer, vitConfig, type VitArch } from '@selfpatch/vit';
import { DINOLoss, SelfPatchDINO, DINOTrainer, cosineSchedule } from '@selfpatch/ssl';
import { median } from './stats.js';

const [threadsS, mode, ...args] = process.argv.slice(2) as [string, string, ...string[]];
// BENCH_BACKEND: wasm (default; THREADS XNNPACK threads), tensorflow (THREADS intra-op threads,
// set by the parent through TF_NUM_INTRAOP_THREADS before libtensorflow starts), webgpu, auto.
const backend = process.env.BENCH_BACKEND ?? 'wasm';
const info = await initBackend(backend, { threads: backend === 'wasm' ? Number(threadsS) : 1 });

// BENCH_STOCK_KERNELS=Identity,Cast: tfjs's own kernels for those names, or, for fused kernels
// (SelfPatchAttention,SelfPatchAttentionGrad; SelfPatchGelu,SelfPatchGeluGrad), none, so their ops
// run the tfjs composite (before/after runs).
if (process.env.BENCH_STOCK_KERNELS) {
  uninstallWasmKernels(process.env.BENCH_STOCK_KERNELS.split(','));
  uninstallTensorflowKernels(process.env.BENCH_STOCK_KERNELS.split(','));
}

const heapMb = (): number => ((tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.length ?? 0) / 2 ** 20;

function matmul(n: number, repeats: number): Record<string, number> {
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  const times: number[] = [];
  for (let i = 0; i <= repeats; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
    if (i > 0) times.push(performance.now() - t0);
  }
  const ms = median(times);
  return { ms, gflops: (2 * n ** 3) / ms / 1e6 };
}

function forward(arch: VitArch, batch: number, size: number, repeats: number): Record<string, number> {
  const vit = new VisionTransformer(vitConfig(arch), { rng: new Rng(0) }).eval();
  const x = tf.randomNormal([batch, 3, size, size]) as tf.Tensor4D;
  const times: number[] = [];
  for (let i = 0; i <= repeats; i++) {
    const t0 = performance.now();
    const y = vit.forward(x);
    y.dataSync();
    y.dispose();
    if (i > 0) times.push(performance.now() - t0);
  }
  return { ms: median(times), heap_mb: heapMb() };
}

function makeTrainer(arch: VitArch, nCrops: number, total: number, micro: number, outDim: number, patchOutDim: number, dropPath = 0.1) {
  const cfg = { backbone: vitConfig(arch, { dropPathRate: dropPath }), outDim, patchOutDim };
  const rng = new Rng(0);
  const student = new SelfPatchDINO(cfg, rng);
  const teacher = new SelfPatchDINO(cfg, rng);
  teacher.loadStateDict(student.stateDict());
  const loss = new DINOLoss({ outDim, patchOutDim, ncrops: nCrops, nepochs: total });
  const schedules = { lr: cosineSchedule(5e-4, 1e-6, total, 1), wd: cosineSchedule(0.04, 0.4, total, 1), momentum: cosineSchedule(0.996, 1, total, 1) };
  return { student, trainer: new DINOTrainer({ student, teacher, loss, schedules, niterPerEpoch: 1, microBatch: micro > 0 ? micro : undefined }) };
}

function makeCrops(batch: number, nLocal: number): tf.Tensor4D[] {
  return [
    ...Array.from({ length: 2 }, () => tf.randomNormal([batch, 3, 224, 224]) as tf.Tensor4D),
    ...Array.from({ length: nLocal }, () => tf.randomNormal([batch, 3, 96, 96]) as tf.Tensor4D),
  ];
}

function step(arch: VitArch, batch: number, nLocal: number, steps: number, micro: number, outDim: number, patchOutDim: number): Record<string, unknown> {
  const total = steps + 2;
  const { trainer } = makeTrainer(arch, 2 + nLocal, total, micro, outDim, patchOutDim);
  const crops = makeCrops(batch, nLocal);
  const times: number[] = [];
  const tensors: number[] = [];
  const losses: number[] = [];
  // Minor page faults per step: a native allocator that returns memory to the OS between ops
  // pays them on every large tensor.
  const faults: number[] = [];
  const sysMs: number[] = [];
  for (let it = 0; it < total; it++) {
    const t0 = performance.now();
    const r0 = process.resourceUsage();
    losses.push(trainer.step(crops, it).loss);
    // Steps 0-1 warm up (step 1 creates the last layers' Adam state after the freeze epoch).
    if (it >= 2) {
      times.push(performance.now() - t0);
      tensors.push(tf.memory().numTensors);
      const r1 = process.resourceUsage();
      faults.push(r1.minorPageFault - r0.minorPageFault);
      sysMs.push((r1.systemCPUTime - r0.systemCPUTime) / 1000);
    }
  }
  return { ms: median(times), times, heap_mb: heapMb(), tensors, losses, faults, sys_ms: sysMs };
}

type KernelInfo = Awaited<ReturnType<typeof tf.profile>>['kernels'][number];

/** Kernel time and call count summed per key, costliest first. */
function totalsBy(kernels: KernelInfo[], key: (k: KernelInfo) => string): Array<{ key: string; ms: number; calls: number }> {
  const m = new Map<string, { ms: number; calls: number }>();
  for (const k of kernels) {
    const e = m.get(key(k)) ?? { ms: 0, calls: 0 };
    e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    e.calls += 1;
    m.set(key(k), e);
  }
  return [...m.entries()].sort((a, b) => b[1].ms - a[1].ms).map(([k, e]) => ({ key: k, ...e }));
}

async function profile(arch: VitArch, batch: number, nLocal: number, micro: number): Promise<Record<string, unknown>> {
  const { trainer } = makeTrainer(arch, 2 + nLocal, 4, micro, 65536, 4096);
  const crops = makeCrops(batch, nLocal);
  trainer.step(crops, 0);
  trainer.step(crops, 1);
  const t0 = performance.now();
  const info = await tf.profile(() => {
    trainer.step(crops, 2);
  });
  const wall = performance.now() - t0;
  const top = totalsBy(info.kernels, (k) => k.name);
  // The costliest (kernel, input shapes) pairs: where a fix would pay.
  const shapes = totalsBy(info.kernels, (k) => `${k.name} ${k.inputShapes.map((sh: number[]) => JSON.stringify(sh)).join(' ')}`).slice(0, 150);
  return { wall_ms: wall, kernels: info.kernels.length, peak_mb: info.peakBytes / 2 ** 20, top, shapes };
}

let out: Record<string, unknown>;
if (mode === 'matmul') out = matmul(Number(args[0]), Number(args[1]));
else if (mode === 'forward') out = forward(args[0] as VitArch, Number(args[1]), Number(args[2]), Number(args[3]));
else if (mode === 'step') out = step(args[0] as VitArch, Number(args[1]), Number(args[2]), Number(args[3]), Number(args[4]), Number(args[5] ?? 65536), Number(args[6] ?? 4096));
else if (mode === 'profile') out = await profile(args[0] as VitArch, Number(args[1]), Number(args[2]), Number(args[3]));
else throw new Error(`unknown mode ${mode}`);
// A GPU answers: tfjs-node-gpu with a CUDA device, or WebGPU on a hardware adapter.
const onGpu = info.name === 'tensorflow' ? (tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice === true : info.name === 'webgpu' && info.adapter?.software === false;
console.log(JSON.stringify({ ...out, backend: info.name, on_gpu: onGpu, reason: info.reason, ...(info.kernels ? { kernels: info.kernels } : {}) }));
