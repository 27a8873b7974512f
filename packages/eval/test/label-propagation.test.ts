import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { use } from '@selfpatch/backend/testing';
import { labelPropagation, neighborhoodMask, normMask, propagateMask, upsampleBilinear, argmaxLabels } from '../src/index.js';

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

interface Case {
  name: string;
  h: number;
  w: number;
  c: number;
  contexts: number;
  classes: number;
  radius: number;
  topk: number;
  /** Every source column the same vector: all of a query's values tie, so all are kept. */
  ties?: boolean;
}

const CASES: Case[] = [
  { name: 'square grid', h: 6, w: 6, c: 16, contexts: 3, classes: 3, radius: 2, topk: 5 },
  { name: 'rows not a multiple of 4 or 8, odd C', h: 5, w: 13, c: 7, contexts: 2, classes: 2, radius: 3, topk: 5 },
  { name: 'window smaller than k (every window source kept)', h: 4, w: 9, c: 8, contexts: 1, classes: 2, radius: 1, topk: 20 },
  { name: 'radius 0: the whole grid', h: 7, w: 3, c: 8, contexts: 2, classes: 2, radius: 0, topk: 5 },
  { name: 'radius beyond the grid', h: 3, w: 10, c: 5, contexts: 2, classes: 4, radius: 40, topk: 3 },
  { name: 'ties at the k-th value keep more than k', h: 5, w: 6, c: 8, contexts: 2, classes: 2, radius: 2, topk: 5, ties: true },
];

function caseInputs(k: Case, seed: number): { target: tf.Tensor2D; sources: tf.Tensor2D[]; segs: tf.Tensor3D[] } {
  const hw = k.h * k.w;
  const target = tf.randomNormal([hw, k.c], 0, 1, 'float32', seed) as tf.Tensor2D;
  const sources = Array.from({ length: k.contexts }, (_, i) =>
    k.ties ? (tf.tile(tf.randomNormal([k.c, 1], 0, 1, 'float32', seed + 1), [1, hw]) as tf.Tensor2D) : (tf.randomNormal([k.c, hw], 0, 1, 'float32', seed + 1 + i) as tf.Tensor2D),
  );
  const segs = Array.from({ length: k.contexts }, (_, i) => tf.randomUniform([k.classes, k.h, k.w], 0, 1, 'float32', seed + 50 + i) as tf.Tensor3D);
  return { target, sources, segs };
}

test('propagateMask on wasm runs the fused neighbourhood kernel and equals labelPropagation on cpu: ragged grids, radius 0 and beyond, windows under k, ties', async () => {
  for (const [i, k] of CASES.entries()) {
    const opts = { h: k.h, w: k.w, radius: k.radius, topk: k.topk };
    await use('cpu');
    const want = tf.tidy(() => {
      const x = caseInputs(k, 10 * i + 1);
      return labelPropagation(x.target, x.sources, x.segs, opts).seg.dataSync().slice();
    });
    await use('wasm');
    const x = caseInputs(k, 10 * i + 1);
    const before = tf.memory().numTensors;
    const prof = await tf.profile(() => propagateMask(x.target, x.sources, x.segs, opts));
    assert.ok(prof.kernels.some((kk) => kk.name === 'SelfPatchNeighborhoodPropagation'), `${k.name}: the fused kernel ran`);
    assert.ok(!prof.kernels.some((kk) => kk.name === 'TopK'), `${k.name}: no dense top-k`);
    const got = propagateMask(x.target, x.sources, x.segs, opts);
    assert.deepEqual(got.shape, [k.classes, k.h, k.w]);
    const g = got.dataSync();
    let worst = 0;
    for (let j = 0; j < g.length; j++) worst = Math.max(worst, Math.abs((g[j] as number) - (want[j] as number)) / (1e-6 + Math.abs(want[j] as number)));
    assert.ok(worst < 1e-5, `${k.name}: relative difference ${worst}`);
    got.dispose();
    assert.equal(tf.memory().numTensors, before + 1, `${k.name}: only the result of the profiled call is left`);
    tf.dispose([x.target, ...x.sources, ...x.segs]);
  }
  tf.disposeVariables();
});

test('propagateMask at DAVIS size (30×52 grid, 8 contexts, C 384) on wasm equals the dense composite on wasm, without leaks; cpu runs the composite', async () => {
  await use('wasm');
  const [h, w, c, n] = [30, 52, 384, 8];
  const target = tf.randomNormal([h * w, c], 0, 1, 'float32', 7) as tf.Tensor2D;
  const sources = Array.from({ length: n }, (_, i) => tf.randomNormal([c, h * w], 0, 1, 'float32', 8 + i) as tf.Tensor2D);
  const segs = Array.from({ length: n }, (_, i) => tf.randomUniform([2, h, w], 0, 1, 'float32', 30 + i) as tf.Tensor3D);
  const dense = labelPropagation(target, sources, segs, { h, w });
  const before = tf.memory().numTensors;
  for (let i = 0; i < 2; i++) {
    const seg = propagateMask(target, sources, segs, { h, w });
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(seg, dense.seg))).dataSync()[0] as number);
    assert.ok(diff < 1e-5, `max difference ${diff}`);
    seg.dispose();
  }
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  tf.dispose([target, ...sources, ...segs, dense.seg, dense.aff]);
  await use('cpu');
  const small = caseInputs(CASES[0] as Case, 3);
  const prof = await tf.profile(() => propagateMask(small.target, small.sources, small.segs, { h: 6, w: 6, radius: 2, topk: 5 }));
  assert.ok(!prof.kernels.some((kk) => kk.name === 'SelfPatchNeighborhoodPropagation') && prof.kernels.some((kk) => kk.name === 'TopK'), 'cpu: the composite');
});

test('propagateMask with NaN features gives NaN where the dense form does, on wasm (fused) as on cpu: a NaN source everywhere, a NaN target row at its query', async () => {
  const [h, w, c] = [6, 9, 8];
  const run = (nanIn: 'source' | 'target') =>
    tf.tidy(() => {
      const target = tf.randomNormal([h * w, c], 0, 1, 'float32', 4).bufferSync();
      const src = tf.randomNormal([c, h * w], 0, 1, 'float32', 5).bufferSync();
      if (nanIn === 'source') src.set(NaN, 3, 0); // feature 3 of source patch (0, 0)
      else target.set(NaN, 10, 2); // feature 2 of query 10
      const segs = tf.randomUniform([2, h, w], 0, 1, 'float32', 6) as tf.Tensor3D;
      return propagateMask(target.toTensor() as tf.Tensor2D, [src.toTensor() as tf.Tensor2D], [segs], { h, w, radius: 2, topk: 3 }).dataSync().slice() as Float32Array;
    });
  for (const nanIn of ['source', 'target'] as const) {
    for (const backend of ['cpu', 'wasm']) {
      await use(backend);
      const got = run(nanIn);
      for (let i = 0; i < got.length; i++) {
        const want = nanIn === 'source' || i % (h * w) === 10;
        assert.equal(Number.isNaN(got[i]), want, `${backend}, NaN in the ${nanIn}: output ${i}`);
      }
    }
  }
});
