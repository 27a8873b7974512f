import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@selfpatch/nn';
import { SwinTransformer, swinTiny } from '@selfpatch/swin';
import { use } from '@selfpatch/backend/testing';
import { AdamW, MoBYSelfPatch, MoBYTrainer, NonFiniteLossError, clipGradNorm, cosineSchedule, paramGroups } from '../src/index.js';

const cfg = swinTiny({ embedDim: 8, depths: [2, 2, 2], numHeads: [2, 2, 4], imgSize: 64, dropPathRate: 0.1 });
const opts = { numFeatures: 32, innerDim: 16, outDim: 16, numNegative: 8, caHeads: 4, patchOutDim: 12, patchHiddenDim: 16, patchBottleneckDim: 8 };
const steps = 4;
const lr = cosineSchedule(1e-3, 1e-5, 2, 2, 1, 1e-4);
const views = (seed: number) => [0, 1].map((i) => tf.randomNormal([2, 3, 64, 64], 0, 1, 'float32', seed + i) as tf.Tensor4D);

function build(seed: number): { model: MoBYSelfPatch; dropPathRng: Rng } {
  const dropPathRng = new Rng(seed + 100);
  const model = new MoBYSelfPatch(new SwinTransformer(cfg, { rng: new Rng(seed), dropPathRng }), new SwinTransformer({ ...cfg, dropPathRate: 0 }, { rng: new Rng(seed + 1) }), { ...opts, rng: new Rng(seed + 2) });
  return { model, dropPathRng };
}

const params = (m: MoBYSelfPatch) => new Map(m.namedParameters().map(([n, v]) => [n, Array.from(v.dataSync())]));

test('MoBYTrainer: each step equals MoBY.step → global-norm clip → AdamW with the scheduled lr and constant weight decay (wasm)', async () => {
  await use('wasm');
  const data = Array.from({ length: steps }, (_, it) => views(10 * it));
  const a = build(1);
  const trainer = new MoBYTrainer({ model: a.model, lr, weightDecay: 0.05, niterPerEpoch: 2, clipGrad: 0.5, dropPathRng: a.dropPathRng });
  const b = build(1);
  const opt = new AdamW();
  const groups = paramGroups(b.model.onlineParameters());
  for (let it = 0; it < steps; it++) {
    const r = trainer.step(data[it] as tf.Tensor4D[], it);
    const ref = b.model.step(...(data[it] as [tf.Tensor4D, tf.Tensor4D]), it, steps);
    const grads = new Map<string, tf.Tensor | null>(ref.grads);
    const norm = clipGradNorm(grads, 0.5);
    opt.step([{ params: groups.regularized, lr: lr[it] as number, weightDecay: 0.05 }, { params: groups.notRegularized, lr: lr[it] as number, weightDecay: 0 }], grads);
    tf.dispose([...grads.values()].filter((g): g is tf.Tensor => g !== null));
    assert.equal(r.loss, ref.loss);
    assert.equal(r.gradNorms.get('*'), norm);
    assert.deepEqual([r.iteration, r.epoch, r.lr, r.weightDecay, r.momentum], [it, Math.floor(it / 2), lr[it], 0.05, ref.momentum]);
    assert.deepEqual(Object.keys(r.terms).sort(), ['loss12', 'loss21', 'patch']);
  }
  assert.deepEqual(params(a.model), params(b.model));
  trainer.dispose();
  opt.dispose();
  a.model.dispose();
  b.model.dispose();
  data.flat().forEach((t) => t.dispose());
});

test('MoBYTrainer resume: state after 2 steps restored into a fresh model continues bit-exactly, queues and drop-path RNG included (wasm)', async () => {
  await use('wasm');
  const data = Array.from({ length: steps }, (_, it) => views(10 * it + 1));
  const straight = build(3);
  const t1 = new MoBYTrainer({ model: straight.model, lr, weightDecay: 0.05, niterPerEpoch: 2, dropPathRng: straight.dropPathRng });
  for (let it = 0; it < steps; it++) t1.step(data[it] as tf.Tensor4D[], it);
  const first = build(3);
  const t2 = new MoBYTrainer({ model: first.model, lr, weightDecay: 0.05, niterPerEpoch: 2, dropPathRng: first.dropPathRng });
  for (let it = 0; it < 2; it++) t2.step(data[it] as tf.Tensor4D[], it);
  const state = t2.getState();
  const resumed = build(77);
  const t3 = new MoBYTrainer({ model: resumed.model, lr, weightDecay: 0.05, niterPerEpoch: 2, dropPathRng: resumed.dropPathRng });
  t3.setState(state);
  for (let it = 2; it < steps; it++) t3.step(data[it] as tf.Tensor4D[], it);
  const ref = new Map(Object.entries(straight.model.stateDict()).map(([k, v]) => [k, Array.from(v.dataSync())]));
  for (const [k, v] of Object.entries(resumed.model.stateDict())) assert.deepEqual(Array.from(v.dataSync()), ref.get(k), k);
  for (const t of [t1, t2, t3]) t.dispose();
  for (const m of [straight, first, resumed]) m.model.dispose();
  data.flat().forEach((t) => t.dispose());
});

test('MoBYTrainer: a NaN loss throws NonFiniteLossError and leaves the online weights as they were; bad iteration is a ConfigError', async () => {
  await use('wasm');
  const { model, dropPathRng } = build(5);
  const trainer = new MoBYTrainer({ model, lr, weightDecay: 0.05, niterPerEpoch: 2, dropPathRng });
  const before = new Map(model.onlineParameters().map(([n, v]) => [n, Array.from(v.dataSync())]));
  const [v1, v2] = views(3) as [tf.Tensor4D, tf.Tensor4D];
  const bad = tf.fill(v1.shape, Number.NaN) as tf.Tensor4D;
  assert.throws(() => trainer.step([bad, v2], 0), (e: unknown) => e instanceof NonFiniteLossError && e.iteration === 0);
  for (const [n, v] of model.onlineParameters()) assert.deepEqual(Array.from(v.dataSync()), before.get(n), n);
  assert.throws(() => trainer.step([v1, v2], lr.length), { name: 'ConfigError' });
  assert.throws(() => trainer.step([v1], 0), { name: 'ConfigError' });
  tf.dispose([v1, v2, bad]);
  trainer.dispose();
  model.dispose();
});
