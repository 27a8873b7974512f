/**
 * One training-step measurement in its own process (bench/train-step.ts drives it): a ViT-Ti/16
 * DINO+SelfPatch step with the official head sizes on 2×224 + L×96 crops. Prints one JSON line:
 * median ms/step, wasm heap, tensor counts after each timed step.
 *
 *   train-step-child.ts MODE BATCH LOCAL STEPS [MICRO]
 *   MODE: tuned (micro-batched student, fused kernels) | naive (stock tfjs-wasm kernels, one taped graph)
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@selfpatch/backend';
import { Rng } from '@selfpatch/nn';
import { uninstallWasmKernels } from '@selfpatch/backend';
import { vitConfig } from '@selfpatch/vit';
import { DINOLoss, SelfPatchDINO, DINOTrainer, cosineSchedule } from '@selfpatch/ssl';

const [mode, batchS, localS, stepsS, microS] = process.argv.slice(2) as [string, string, string, string, string | undefined];
const batch = Number(batchS);
const nLocal = Number(localS);
const steps = Number(stepsS);
await initBackend('wasm');
// The baseline drops everything this project adds on wasm: fused kernels, and micro-batching.
if (mode === 'naive') uninstallWasmKernels();
const cfg = { backbone: vitConfig('vit_tiny', { dropPathRate: 0.1 }), outDim: 65536, patchOutDim: 4096 };
const rng = new Rng(0);
const student = new SelfPatchDINO(cfg, rng);
const teacher = new SelfPatchDINO(cfg, rng);
teacher.loadStateDict(student.stateDict());
const ncrops = 2 + nLocal;
const total = steps + 2;
const loss = new DINOLoss({ outDim: 65536, patchOutDim: 4096, ncrops, nepochs: total });
const schedules = { lr: cosineSchedule(5e-4, 1e-6, total, 1), wd: cosineSchedule(0.04, 0.4, total, 1), momentum: cosineSchedule(0.996, 1, total, 1) };
const trainer = new DINOTrainer({
  student,
  teacher,
  loss,
  schedules,
  niterPerEpoch: 1,
  microBatch: mode === 'tuned' && microS ? Number(microS) : undefined,
  singleGraph: mode === 'naive',
});
const crops = [
  ...Array.from({ length: 2 }, () => tf.randomNormal([batch, 3, 224, 224]) as tf.Tensor4D),
  ...Array.from({ length: nLocal }, () => tf.randomNormal([batch, 3, 96, 96]) as tf.Tensor4D),
];
const times: number[] = [];
const tensors: number[] = [];
const losses: number[] = [];
for (let it = 0; it < total; it++) {
  const t0 = performance.now();
  const r = trainer.step(crops, it);
  const ms = performance.now() - t0;
  losses.push(r.loss);
  // Steps 0-1 warm up (step 1 creates the last layer's Adam state after the freeze epoch).
  if (it >= 2) {
    times.push(ms);
    tensors.push(tf.memory().numTensors);
  }
}
times.sort((a, b) => a - b);
const heap = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.length ?? 0;
console.log(JSON.stringify({ ms: times[Math.floor(times.length / 2)], heap_mb: heap / 2 ** 20, tensors, losses }));
process.exit(0);
