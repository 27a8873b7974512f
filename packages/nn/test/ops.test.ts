import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { OP_CASES, PORTABLE_BACKENDS, checkOpCase, maxAbsDiff, randn, useStock } from '@selfpatch/nn/testing';
import { matmul2d, linear, gelu, scaledDotProductAttention, Rng } from '../src/index.js';

for (const c of OP_CASES) {
  test(`${c.name}: forward and gradients match a stock-tfjs formulation and finite differences on stock cpu and wasm`, async () => {
    const { grads } = await checkOpCase(c, PORTABLE_BACKENDS, useStock);
    // wasm and cpu agree on the gradients.
    (grads.cpu as Float32Array[]).forEach((g, i) => {
      assert.ok(maxAbsDiff(g, (grads.wasm as Float32Array[])[i] as Float32Array) < 1e-4, `cpu vs wasm grad ${i}`);
    });
  });
}

test('matmul2d and linear reject bad shapes with ShapeError', async () => {
  await useStock('cpu');
  assert.throws(() => matmul2d(tf.ones([2, 3]), tf.ones([4, 2])), { name: 'ShapeError' });
  assert.throws(() => matmul2d(tf.ones([2, 3, 1]), tf.ones([1, 2])), { name: 'ShapeError' });
  assert.throws(() => linear(tf.ones([2, 5]), tf.ones([4, 6])), { name: 'ShapeError' });
});

test('naive ops mode (benchmark baseline) computes the same values and gradients as the tuned ops', async () => {
  const { setOpsMode } = await import('../src/index.js');
  for (const backend of PORTABLE_BACKENDS) {
    await useStock(backend);
    const rng = new Rng(21);
    const x = randn([2, 5, 6], rng);
    const w = randn([4, 6], rng);
    const b = randn([4], rng);
    const q = randn([3, 5, 4], rng);
    const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor, qq: tf.Tensor) =>
      tf.add(tf.sum(gelu(linear(xx, ww, bb))), tf.sum(scaledDotProductAttention(qq as tf.Tensor3D, qq as tf.Tensor3D, qq as tf.Tensor3D, 0.5).out));
    const tuned = tf.grads(f)([x, w, b, q]);
    setOpsMode('naive');
    try {
      const naive = tf.grads(f)([x, w, b, q]);
      tuned.forEach((g, i) => assert.ok(maxAbsDiff(g, naive[i] as tf.Tensor) < 1e-5, `${backend} grad ${i}`));
    } finally {
      setOpsMode('tuned');
    }
  }
});
