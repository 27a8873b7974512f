import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { OP_CASES, PORTABLE_BACKENDS, checkOpCase, maxAbsDiff, useStock } from '@selfpatch/nn/testing';
import { matmul2d, linear } from '../src/index.js';

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
