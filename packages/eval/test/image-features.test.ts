import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@selfpatch/nn';
import { serializeSafetensors } from '@selfpatch/checkpoint';
import { createImage, crop, pilResize, toNormalizedCHW } from '@selfpatch/data';
import { SelfPatchHead } from '@selfpatch/selfpatch';
import { use } from '@selfpatch/backend/testing';
import { VisionTransformer, exportVitStateDict, vitConfig } from '@selfpatch/vit';
import { knnClassify, knnClassifyMany, loadBackbone } from '../src/index.js';
import { evalTransform } from '../src/node/knn-data.js';

const raw = (sd: Record<string, tf.Tensor>, prefix: string) =>
  Object.fromEntries(Object.entries(sd).map(([k, t]) => [prefix + k, { dtype: 'float32' as const, shape: t.shape, data: t.dataSync() as Float32Array }]));

test("a SelfPatch export with its aggregation head: k-NN's image feature is the head's image token LN(Agg(X))₀; mean and a head-less file as documented", async () => {
  await use('wasm');
  const cfg = vitConfig('vit_tiny', { depth: 2 });
  const vit = new VisionTransformer(cfg, { rng: new Rng(1) });
  const head = new SelfPatchHead(cfg.embedDim, { numHeads: cfg.numHeads, eps: 1e-6, rng: new Rng(2) });
  const bytes = serializeSafetensors({ ...exportVitStateDict(vit), ...raw(head.stateDict(), 'ca_head.') });
  const x = tf.randomNormal([2, 3, 64, 64], 0, 1, 'float32', 3) as tf.Tensor4D;
  const net = loadBackbone(bytes, 'teacher_backbone.safetensors');
  assert.equal(net.imageFeature, 'head');
  assert.match(net.description, /SelfPatch aggregation head/);
  const expected = tf.tidy(() => {
    vit.eval();
    const out = head.forward(vit.forwardFeatures(x).tokens as tf.Tensor3D, { loc: false }).out;
    return tf.reshape(tf.slice(out, [0, 0, 0], [-1, 1, -1]), [2, -1]);
  });
  const got = net.embed(x);
  assert.deepEqual(got.shape, [2, cfg.embedDim]);
  assert.ok(tf.max(tf.abs(tf.sub(got, expected))).dataSync()[0] === 0, 'head image token');
  const mean = loadBackbone(bytes, 'b.safetensors', { imageFeature: 'mean' });
  assert.equal(mean.imageFeature, 'mean');
  const tokensMean = tf.tidy(() => tf.mean(vit.forwardFeatures(x).tokens, 1));
  assert.ok(tf.max(tf.abs(tf.sub(mean.embed(x), tokensMean))).dataSync()[0] === 0, 'mean of the patch tokens');
  const bare = serializeSafetensors(exportVitStateDict(vit));
  assert.equal(loadBackbone(bare, 'bare.safetensors').imageFeature, 'mean');
  assert.throws(() => loadBackbone(bare, 'bare.safetensors', { imageFeature: 'head' }), { name: 'CheckpointFormatError', message: /bare\.safetensors.*no SelfPatch aggregation head/ });
  tf.dispose([x, expected, got, tokensMean]);
  for (const m of [net, mean]) m.dispose();
  vit.dispose();
  head.dispose();
});

test('knnClassifyMany gives each k the result of a separate knnClassify, from one similarity pass', async () => {
  await use('cpu');
  const rng = new Rng(5);
  const train = tf.tensor2d(Float32Array.from({ length: 60 * 8 }, () => rng.normal()), [60, 8]);
  const test_ = tf.tensor2d(Float32Array.from({ length: 15 * 8 }, () => rng.normal()), [15, 8]);
  const trainLabels = Array.from({ length: 60 }, (_, i) => i % 3);
  const testLabels = Array.from({ length: 15 }, (_, i) => (i * 7) % 3);
  const many = knnClassifyMany(train, trainLabels, test_, testLabels, [1, 5, 20, 60], { numClasses: 3, chunk: 4 });
  for (const k of [1, 5, 20, 60]) {
    const one = knnClassify(train, trainLabels, test_, testLabels, { k, numClasses: 3 });
    assert.deepEqual(many.get(k), one, `k=${k}`);
  }
  assert.throws(() => knnClassifyMany(train, trainLabels, test_, testLabels, [61], { numClasses: 3 }), { name: 'ConfigError' });
  tf.dispose([train, test_]);
});

test("the k-NN centre crop rounds half to even like torchvision's CenterCrop (Python round)", () => {
  // 257×256 → short side 256 kept, long 257: (257 − 224)/2 = 16.5 → 16 (Math.round would give 17).
  const img = createImage(257, 256);
  for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 37) % 251;
  const resized = pilResize(img, 257, 256, 'bicubic');
  const at = (left: number) => toNormalizedCHW(crop(resized, { top: 16, left, width: 224, height: 224 }));
  const ours = evalTransform(img, 224);
  assert.deepEqual(ours, at(16));
  assert.notDeepEqual(ours, at(17));
});
