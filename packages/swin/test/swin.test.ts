import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@selfpatch/nn';
import { maxAbsDiff } from '@selfpatch/nn/testing';
import { BACKENDS, use } from '@selfpatch/backend/testing';
import { SwinTransformer, swinTiny, windowPartition, windowReverse, shiftMask, relativePositionIndex, numFeatures } from '../src/index.js';

const small = (o = {}) => swinTiny({ embedDim: 8, depths: [2, 2, 2], numHeads: [2, 2, 4], imgSize: 112, ...o });

test('Swin-T preset: 27,519,354 parameters (docs/swin-moby.md §1), keys as the official state dict', async () => {
  await use('cpu');
  const swin = new SwinTransformer(swinTiny());
  assert.equal(swin.numParameters(), 27519354);
  const keys = Object.keys(swin.stateDict());
  for (const k of ['patch_embed.proj.weight', 'patch_embed.norm.weight', 'layers.0.blocks.1.attn_mask', 'layers.0.blocks.0.attn.relative_position_index', 'layers.2.downsample.reduction.weight', 'norm.bias']) {
    assert.ok(keys.includes(k), k);
  }
  assert.ok(!keys.includes('layers.3.blocks.1.attn_mask'), 'the 7×7 stage has one window and no shift');
  assert.ok(!keys.includes('layers.0.downsample.reduction.bias'), 'patch merging has no bias');
  assert.equal(numFeatures(swin.config), 768);
  swin.dispose();
});

test('window partition/reverse round-trip; relative index and shift mask structure', async () => {
  await use('cpu');
  const x = tf.randomNormal([2, 14, 21, 3]) as tf.Tensor4D;
  const w = windowPartition(x, 7);
  assert.deepEqual(w.shape, [12, 49, 3]);
  assert.equal(maxAbsDiff(windowReverse(w, 7, 2, 14, 21), x), 0);
  // Window 1 of image 0 is rows 0-6, cols 7-13.
  assert.deepEqual(Array.from(tf.slice(w, [1, 0, 0], [1, 1, 3]).dataSync()), Array.from(tf.slice(x, [0, 0, 7, 0], [1, 1, 1, 3]).dataSync()));
  const idx = relativePositionIndex(7);
  assert.equal(idx[0], 6 * 13 + 6); // same token
  assert.equal(Math.max(...idx), 168);
  const m = shiftMask(14, 14, 7, 3);
  // First window is one region (all zeros); the last window mixes 4 regions.
  assert.ok(m.subarray(0, 49 * 49).every((v) => v === 0));
  const last = m.subarray(3 * 49 * 49);
  assert.ok(last.some((v) => v === -100) && last.some((v) => v === 0));
  assert.ok(Array.from(last).every((v) => v === 0 || v === -100));
});

test('any input size (padding policy): DAVIS 480×832 and odd sizes give the expected grids', async () => {
  await use('wasm');
  const swin = new SwinTransformer(small(), { rng: new Rng(1) }).eval();
  // Three stages: patch 4 then two merges (odd sizes round up after padding).
  for (const [h, w, gh, gw] of [[112, 112, 7, 7], [480, 832, 30, 52], [100, 148, 7, 10], [64, 96, 4, 6]] as const) {
    const { tokens, grid } = swin.forwardFeatures(tf.zeros([1, 3, h, w]) as tf.Tensor4D);
    assert.deepEqual([grid.h, grid.w], [gh, gw], `${h}x${w}`);
    assert.deepEqual(tokens.shape, [1, gh * gw, 32]);
    assert.ok(Array.from(tokens.dataSync()).every(Number.isFinite));
    tokens.dispose();
  }
  // Padding never changes the result at the configured size: a 112 image equals its own pooled feature run twice.
  const x = tf.randomNormal([2, 3, 112, 112], 0, 1, 'float32', 3) as tf.Tensor4D;
  assert.equal(maxAbsDiff(swin.forward(x), swin.forward(x)), 0);
  assert.deepEqual(swin.getLastSelfAttention(x).shape, [2, 4, 49, 49]);
  swin.dispose();
});

test('training: gradients reach every parameter (bias tables included) and tensors stay flat (cpu and wasm)', async () => {
  for (const backend of BACKENDS) {
    await use(backend);
    const swin = new SwinTransformer(small({ dropPathRate: 0.2 }), { rng: new Rng(2) });
    const vars = swin.trainableVariables();
    const x = tf.randomNormal([2, 3, 112, 112], 0, 1, 'float32', 4) as tf.Tensor4D;
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(swin.forward(x))) as tf.Scalar, vars);
      const zero = tf.tidy(() => Object.entries(grads).filter(([, g]) => (tf.max(tf.abs(g)).dataSync()[0] as number) === 0).map(([k]) => k));
      tf.tidy(() => vars.forEach((v) => v.assign(tf.sub(v, tf.mul(grads[v.name] as tf.Tensor, 1e-3)))));
      tf.dispose([value, ...Object.values(grads)]);
      return zero;
    };
    const zero = step();
    assert.deepEqual(zero.filter((n) => !/(attn\.qkv\.bias|k\.bias)/.test(n)), [], `${backend}: parameters without gradient`);
    const base = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) step();
    assert.equal(tf.memory().numTensors, base, backend);
    swin.dispose();
    x.dispose();
  }
});

test('invalid configs name the option', () => {
  assert.throws(() => swinTiny({ depths: [2, 2], numHeads: [3] }), /'depths'/);
  assert.throws(() => swinTiny({ numHeads: [5, 6, 12, 24] }), /'numHeads\[0\]'.*not divisible/);
  assert.throws(() => swinTiny({ dropPathRate: 1 }), /'dropPathRate'/);
});

test('train()/eval() reach every module, the drop-path layers included (layers.i.blocks.j.drop_path)', async () => {
  const { DropPath } = await import('@selfpatch/nn');
  await use('cpu');
  const swin = new SwinTransformer(swinTiny({ depths: [1, 1, 1, 1], embedDim: 24, numHeads: [1, 1, 1, 1], dropPathRate: 0.1 }), { rng: new Rng(0) });
  const drops = swin.namedModules().filter(([, m]) => m instanceof DropPath).map(([n]) => n);
  assert.deepEqual(drops, ['layers.0.blocks.0.drop_path', 'layers.1.blocks.0.drop_path', 'layers.2.blocks.0.drop_path', 'layers.3.blocks.0.drop_path']);
  swin.eval();
  assert.ok(swin.namedModules().every(([, m]) => !m.training));
  swin.train();
  assert.ok(swin.namedModules().every(([, m]) => m.training));
  swin.dispose();
});
