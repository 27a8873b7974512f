import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { use } from '@selfpatch/backend/testing';
import { labelPropagation, neighborhoodMask, normMask, upsampleBilinear, argmaxLabels } from '../src/index.js';

test('neighbourhood mask: window without wrap-around, symmetric', () => {
  const m = neighborhoodMask(3, 4, 1);
  // Corner (0,0) sees (0,0),(0,1),(1,0),(1,1) only.
  assert.deepEqual(Array.from(m.subarray(0, 12)), [1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0]);
  for (let q = 0; q < 12; q++) for (let s = 0; s < 12; s++) assert.equal(m[q * 12 + s], m[s * 12 + q]);
});

test('propagation: a frame matched to itself with a one-hot mask returns that mask; radius 0 disables the window; errors', async () => {
  await use('cpu');
  const [h, w, c] = [4, 5, 8];
  const feats = tf.randomNormal([h * w, c], 0, 1, 'float32', 3) as tf.Tensor2D;
  const labels = Array.from({ length: h * w }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const onehot = tf.tensor3d([labels.map((l) => 1 - l), labels].flat(), [2, h, w]);
  // top-1: every patch's most similar source is itself (cosine 1).
  const { seg } = labelPropagation(feats, [tf.transpose(feats) as tf.Tensor2D], [onehot], { h, w, radius: 0, topk: 1 });
  assert.deepEqual(Array.from(argmaxLabels(seg).dataSync()), labels);
  assert.throws(() => labelPropagation(feats, [], [], { h, w }), { name: 'ShapeError' });
  assert.throws(() => labelPropagation(feats, [tf.transpose(feats) as tf.Tensor2D], [onehot], { h, w, topk: 100 }), { name: 'ConfigError' });
  assert.throws(() => labelPropagation(feats, [tf.transpose(feats) as tf.Tensor2D], [onehot], { h: 3, w: 5 }), { name: 'ShapeError' });
});

test('upsampling, norm_mask and labels keep shapes; no tensors leak on a DAVIS-sized frame (wasm)', async () => {
  await use('wasm');
  const [h, w, c, k] = [30, 52, 16, 2];
  const target = tf.randomNormal([h * w, c]) as tf.Tensor2D;
  const ctx = Array.from({ length: 3 }, () => tf.randomNormal([c, h * w]) as tf.Tensor2D);
  const segs = Array.from({ length: 3 }, () => tf.randomUniform([k, h, w]) as tf.Tensor3D);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 2; i++) {
    const { seg, aff } = labelPropagation(target, ctx, segs, { h, w });
    const up = upsampleBilinear(seg, 16);
    assert.deepEqual(up.shape, [k, 480, 832]);
    const nm = normMask(up);
    const lab = argmaxLabels(nm);
    assert.deepEqual(lab.shape, [480, 832]);
    tf.dispose([seg, aff, up, nm, lab]);
  }
  assert.equal(tf.memory().numTensors, before);
});
