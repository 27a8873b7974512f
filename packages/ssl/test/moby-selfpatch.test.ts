import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@selfpatch/nn';
import { SwinTransformer, swinTiny } from '@selfpatch/swin';
import { maxAbsDiff } from '@selfpatch/nn/testing';
import { use } from '@selfpatch/backend/testing';
import { MoBY, MoBYSelfPatch } from '../src/index.js';

const cfg = swinTiny({ embedDim: 8, depths: [2, 2, 2], numHeads: [2, 2, 4], imgSize: 112 });
const opts = { numFeatures: 32, innerDim: 16, outDim: 16, numNegative: 8, caHeads: 4, patchOutDim: 12, patchHiddenDim: 16, patchBottleneckDim: 8 };
const views = (b: number, h: number, w: number, seed: number) => [
  tf.randomNormal([b, 3, h, w], 0, 1, 'float32', seed) as tf.Tensor4D,
  tf.randomNormal([b, 3, h, w], 0, 1, 'float32', seed + 1) as tf.Tensor4D,
];

test('MoBY+SelfPatch on Swin: matching runs on the last-stage grid of the actual input size', async () => {
  await use('wasm');
  const m = new MoBYSelfPatch(new SwinTransformer(cfg, { rng: new Rng(1) }), new SwinTransformer(cfg, { rng: new Rng(2) }), { ...opts, rng: new Rng(3) });
  for (const [h, w, gh, gw] of [[112, 112, 7, 7], [128, 160, 8, 10]] as const) {
    const [v1, v2] = views(4, h, w, 5) as [tf.Tensor4D, tf.Tensor4D];
    const r = m.step(v1, v2, 0, 10);
    assert.equal(m.lastMatches.length, 2, 'one matching per view');
    for (const mt of m.lastMatches) {
      assert.deepEqual([mt.nb.h, mt.nb.w, mt.k], [gh, gw, 4], `${h}x${w}`);
      assert.equal(mt.ids.length, 4 * gh * gw * 4);
    }
    assert.ok(Number.isFinite(r.loss) && Number.isFinite(r.terms.get('patch') as number));
    assert.ok([...r.grads.keys()].some((k) => k.startsWith('ca_head.')) && [...r.grads.keys()].some((k) => k.startsWith('p_head.')));
    assert.ok(![...r.grads.keys()].some((k) => /_k\./.test(k)), 'no gradient for target parts');
    tf.dispose([...r.grads.values(), v1, v2]);
  }
  m.dispose();
});

test('with λ = 0 the encoder/projector/predictor gradients equal plain MoBY; target heads follow the EMA', async () => {
  await use('wasm');
  const plain = new MoBY(new SwinTransformer(cfg, { rng: new Rng(1) }), new SwinTransformer(cfg, { rng: new Rng(2) }), { ...opts, rng: new Rng(3) });
  const sp = new MoBYSelfPatch(new SwinTransformer(cfg, { rng: new Rng(4) }), new SwinTransformer(cfg, { rng: new Rng(5) }), { ...opts, patchWeight: 0, rng: new Rng(6) });
  const res = sp.loadStateDict(plain.stateDict(), { strict: false });
  assert.ok(res.missing.every((k) => /^(ca_head|p_head|patch_center)/.test(k)));
  const before = sp.caHeadK.namedParameters().map(([, v]) => v.dataSync().slice());
  const [v1, v2] = views(4, 112, 112, 9) as [tf.Tensor4D, tf.Tensor4D];
  const a = plain.step(v1, v2, 3, 10);
  const b = sp.step(v1, v2, 3, 10);
  assert.ok(Math.abs(a.loss - b.loss) < 1e-5, `${a.loss} vs ${b.loss}`);
  for (const [name, g] of a.grads) assert.ok(maxAbsDiff(g, b.grads.get(name) as tf.Tensor) < 1e-5, name);
  // EMA moved the target aggregation module towards the online one.
  const online = new Map(sp.caHead.namedParameters());
  sp.caHeadK.namedParameters().forEach(([name, v], i) => {
    const o = online.get(name) as tf.Variable;
    const expected = Float32Array.from(before[i] as Float32Array, (x, j) => x * b.momentum + (o.dataSync()[j] as number) * (1 - b.momentum));
    assert.ok(maxAbsDiff(v, expected) < 1e-6, name);
  });
  plain.dispose();
  sp.dispose();
});

test('MoBY+SelfPatch steps keep the tensor count flat', async () => {
  await use('wasm');
  const m = new MoBYSelfPatch(new SwinTransformer(cfg, { rng: new Rng(1) }), new SwinTransformer(cfg, { rng: new Rng(2) }), { ...opts, rng: new Rng(3) });
  const [v1, v2] = views(4, 112, 112, 11) as [tf.Tensor4D, tf.Tensor4D];
  const run = () => tf.dispose([...m.step(v1, v2, 1, 10).grads.values()]);
  run();
  const base = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) run();
  assert.equal(tf.memory().numTensors, base);
  m.dispose();
});

test('a NaN view stops MoBY+SelfPatch with the shared NonFiniteLossError; queues, pointer and patch centre unchanged', async () => {
  const { NonFiniteLossError } = await import('../src/index.js');
  await use('wasm');
  const m = new MoBYSelfPatch(new SwinTransformer(cfg, { rng: new Rng(1) }), new SwinTransformer(cfg, { rng: new Rng(2) }), { ...opts, rng: new Rng(3) });
  const keep = ['queue1', 'queue2', 'queue_ptr', 'patch_center'];
  const before = Object.fromEntries(m.namedBuffers().filter(([n]) => keep.includes(n)).map(([n, b]) => [n, b.dataSync().slice()]));
  assert.equal(Object.keys(before).length, 4);
  const [v1, v2] = views(2, 112, 112, 9) as [tf.Tensor4D, tf.Tensor4D];
  const bad = tf.mul(v1, NaN) as tf.Tensor4D;
  assert.throws(() => m.step(bad, v2, 0, 10), (e: unknown) => e instanceof NonFiniteLossError && /MoBY loss is NaN at iteration 0/.test((e as Error).message));
  for (const [n, b] of m.namedBuffers()) if (keep.includes(n)) assert.deepEqual(b.dataSync(), before[n], n);
  tf.dispose([v1, v2, bad]);
  m.dispose();
});

test('MoBY+SelfPatch on the Swin 7×7 grid: torus (default) gives a corner token its 8 wrapped candidates, clamp its 3, and clamp picks exactly those', async () => {
  await use('wasm');
  const [v1, v2] = views(2, 112, 112, 11) as [tf.Tensor4D, tf.Tensor4D];
  const corner = (border: 'torus' | 'clamp', k: number) => {
    const m = new MoBYSelfPatch(new SwinTransformer(cfg, { rng: new Rng(1) }), new SwinTransformer(cfg, { rng: new Rng(2) }), { ...opts, matching: { k, border }, rng: new Rng(3) });
    tf.dispose([...m.step(v1, v2, 0, 10).grads.values()]);
    const mt = m.lastMatches[0] as (typeof m.lastMatches)[number];
    m.dispose();
    const candidates = Array.from(mt.nb.table.subarray(0, mt.nb.size)).filter((i) => i >= 0).sort((a, b) => a - b);
    return { candidates, picked: Array.from(mt.ids.subarray(0, k)).sort((a, b) => a - b), grid: [mt.nb.h, mt.nb.w] };
  };
  const torus = corner('torus', 4);
  assert.deepEqual(torus.grid, [7, 7]);
  // (0,0)'s 3×3 window wraps to the last row (42, 43, 48) and the last column (6, 13).
  assert.deepEqual(torus.candidates, [1, 6, 7, 8, 13, 42, 43, 48]);
  const clamp = corner('clamp', 3);
  assert.deepEqual(clamp.candidates, [1, 7, 8]);
  assert.deepEqual(clamp.picked, [1, 7, 8]);
  tf.dispose([v1, v2]);
});
