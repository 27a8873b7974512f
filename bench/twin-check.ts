/**
 * The torch-twin check of bench/suite.ts, tfjs side: a small SelfPatch DINO (ViT-Ti width, depth 2,
 * small heads, drop-path 0) runs two DINOTrainer iterations on fixed crops (2×224 + 2×96, batch 2).
 * Writes the initial weights and the crops as .pth for bench/py/selfpatch_step.py `check`, which
 * must reproduce both losses: the first checks the forward and the loss, the second the clip,
 * last-layer freeze, AdamW, EMA and center updates.
 *
 *   twin-check.ts WEIGHTS.pth INPUTS.pth
 */
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@selfpatch/backend';
import { Rng } from '@selfpatch/nn';
import { serializePth } from '@selfpatch/checkpoint';
import { tensorToRaw } from '@selfpatch/nn';
import { vitConfig } from '@selfpatch/vit';
import { DINOLoss, SelfPatchDINO, DINOTrainer, cosineSchedule } from '@selfpatch/ssl';

const [weightsPath, inputsPath] = process.argv.slice(2) as [string, string];
await initBackend('wasm');
const depth = 2;
const outDim = 256;
const patchOutDim = 128;
const total = 3;
const cfg = { backbone: vitConfig('vit_tiny', { depth }), outDim, patchOutDim };
const rng = new Rng(3);
const student = new SelfPatchDINO(cfg, rng);
const teacher = new SelfPatchDINO(cfg, rng);
teacher.loadStateDict(student.stateDict());
const sd = Object.fromEntries(Object.entries(student.stateDict()).map(([k, t]) => [k, tensorToRaw(t)]));
writeFileSync(weightsPath, serializePth(sd));

const crops = [
  ...[0, 1].map((i) => tf.randomNormal([2, 3, 224, 224], 0, 1, 'float32', 10 + i) as tf.Tensor4D),
  ...[0, 1].map((i) => tf.randomNormal([2, 3, 96, 96], 0, 1, 'float32', 20 + i) as tf.Tensor4D),
];
const [c, d, h] = [cfg.backbone.embedDim, depth, cfg.backbone.numHeads];
const inputs: Record<string, unknown> = { config: { dtype: 'int64', shape: [5], data: BigInt64Array.from([c, d, h, outDim, patchOutDim].map(BigInt)) } };
crops.forEach((t, i) => (inputs[`crop${i}`] = tensorToRaw(t)));
writeFileSync(inputsPath, serializePth(inputs));

const loss = new DINOLoss({ outDim, patchOutDim, ncrops: crops.length, nepochs: total });
const schedules = { lr: cosineSchedule(5e-4, 1e-6, total, 1), wd: cosineSchedule(0.04, 0.4, total, 1), momentum: cosineSchedule(0.996, 1, total, 1) };
const trainer = new DINOTrainer({ student, teacher, loss, schedules, niterPerEpoch: 1 });
const r0 = trainer.step(crops, 0);
const r1 = trainer.step(crops, 1);
console.log(JSON.stringify({ loss: r0.loss, loss1: r1.loss }));
