import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@selfpatch/nn';
import { BACKENDS, use } from '@selfpatch/backend/testing';
import { argmaxLabels, knnClassify, labelPropagation, nearestIndex, normMask, oneHotLabels, resizeLabelsNearest, upsampleBilinear, VideoPropagator, pcaRgb, attentionMaps } from '../src/index.js';

test('nearest resize follows PIL NEAREST (values from PIL: 854 → 52 columns)', () => {
  // Image.fromarray(arange(854) % 256).resize((52, 1), NEAREST) starts with these source columns.
  assert.deepEqual(Array.from(nearestIndex(854, 52).slice(0, 10)), [8, 24, 41, 57, 73, 90, 106, 123, 139, 156]);
  const up = resizeLabelsNearest(Uint8Array.from([1, 2, 3, 4]), 2, 2, 4, 4);
  assert.deepEqual(Array.from(up), [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
});

function randn(rng: Rng, shape: [number, number]): tf.Tensor2D {
  return tf.tensor2d(Float32Array.from({ length: shape[0] * shape[1] }, () => rng.normal()), shape);
}

for (const backend of BACKENDS) {
  test(`[${backend}] VideoPropagator = first frame + FIFO of the last n frames, as the reference loop`, async () => {
    await use(backend);
    const rng = new Rng(5);
    const h = 4;
    const w = 5;
    const c = 8;
    const frames = Array.from({ length: 5 }, () => randn(rng, [h * w, c]));
    const first = oneHotLabels(Uint8Array.from({ length: h * w }, (_, i) => (i % w < 2 ? 1 : i % 7 === 0 ? 2 : 0)), h, w);
    const opts = { patchSize: 2, nLastFrames: 2, radius: 2, topk: 3 };
    const before = tf.memory().numTensors;
    const prop = new VideoPropagator(frames[0] as tf.Tensor2D, first, { h, w }, opts);
    // Reference: explicit contexts [first] + the last two (features, soft mask) pairs.
    const ctx: Array<{ f: tf.Tensor2D; s: tf.Tensor3D }> = [];
    for (let t = 1; t < frames.length; t++) {
      const got = prop.step(frames[t] as tf.Tensor2D);
      const all = [{ f: frames[0] as tf.Tensor2D, s: first }, ...ctx.slice(-2)];
      const [seg, aff] = tf.tidy(() => {
        const r = labelPropagation(frames[t] as tf.Tensor2D, all.map((a) => tf.transpose(a.f) as tf.Tensor2D), all.map((a) => a.s), { h, w, radius: 2, topk: 3 });
        return [r.seg, r.aff];
      }) as [tf.Tensor3D, tf.Tensor2D];
      aff.dispose();
      const want = tf.tidy(() => argmaxLabels(normMask(upsampleBilinear(seg, 2))));
      assert.deepEqual(Array.from(got.dataSync()), Array.from(want.dataSync()), `frame ${t}`);
      tf.dispose([got, want]);
      ctx.push({ f: frames[t] as tf.Tensor2D, s: seg });
    }
    prop.dispose();
    tf.dispose(ctx.map((x) => x.s));
    assert.equal(tf.memory().numTensors, before, 'no tensors leaked by the propagator');
    tf.dispose([...frames, first]);
  });
}

test('k-NN (DINO protocol): separable classes are found, shuffled labels fall to chance, k bounds are checked', async () => {
  await use('cpu');
  const rng = new Rng(1);
  const classes = 4;
  const dim = 16;
  const centers = Array.from({ length: classes }, () => Array.from({ length: dim }, () => rng.normal() * 3));
  const make = (n: number) => {
    const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
    const data = Float32Array.from({ length: n * dim }, (_, j) => (centers[labels[Math.floor(j / dim)] as number]?.[j % dim] as number) + rng.normal() * 0.5);
    return { feats: tf.tensor2d(data, [n, dim]), labels };
  };
  const train = make(200);
  const testSet = make(80);
  const r = knnClassify(train.feats, train.labels, testSet.feats, testSet.labels, { numClasses: classes, chunk: 30 });
  assert.equal(r.top1, 100);
  assert.equal(r.top5, 100);
  const shuffled = Int32Array.from(train.labels);
  rng.shuffle(shuffled as unknown as number[]);
  const bad = knnClassify(train.feats, shuffled, testSet.feats, testSet.labels, { numClasses: classes });
  assert.ok(bad.top1 < 60, `shuffled labels top-1 ${bad.top1}`);
  assert.throws(() => knnClassify(train.feats, train.labels, testSet.feats, testSet.labels, { numClasses: classes, k: 500 }), /k/);
  tf.dispose([train.feats, testSet.feats]);
});

test('attention maps and PCA colours have the documented shapes and ranges', async () => {
  await use('cpu');
  const rng = new Rng(2);
  const attn = tf.softmax(tf.tensor4d(Float32Array.from({ length: 2 * 10 * 10 }, () => rng.normal()), [1, 2, 10, 10]), -1) as tf.Tensor4D;
  const m = attentionMaps(attn, { h: 3, w: 3 }, true);
  assert.equal(m.heads.length, 2);
  assert.equal(m.mean.length, 9);
  assert.ok(m.heads.every((hm) => Math.min(...hm) === 0 && Math.max(...hm) === 1));
  assert.throws(() => attentionMaps(attn, { h: 3, w: 3 }, false), /does not match/);
  // Two clusters of patches: the first component separates them.
  const f = tf.tensor2d(Float32Array.from({ length: 9 * 4 }, (_, j) => (Math.floor(j / 4) < 4 ? 5 : -5) * (j % 4 === 0 ? 1 : 0) + rng.normal() * 0.01), [9, 4]);
  const rgb = pcaRgb(f);
  assert.equal(rgb.length, 27);
  const firstChannel = Array.from({ length: 9 }, (_, i) => rgb[i * 3] as number);
  assert.ok(firstChannel.slice(0, 4).every((v) => Math.abs(v - (firstChannel[0] as number)) < 5));
  assert.ok(Math.abs((firstChannel[0] as number) - (firstChannel[8] as number)) > 200);
  tf.dispose([attn, f]);
});
