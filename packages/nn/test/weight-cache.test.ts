import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useStock as use, maxAbsDiff, PORTABLE_BACKENDS as BACKENDS } from '@selfpatch/nn/testing';
import { Linear, Rng, transposeFlagsFree, withWeightCache } from '../src/index.js';

// Under withWeightCache a Linear keeps Wᵀ on wasm: one extra tensor, reused while W is unchanged,
// replaced when W is assigned, freed with the layer; outputs and gradients equal the uncached path.
// Elsewhere matMul's transpose flags are free, and the cache holds nothing.
test('Linear transposed-weight cache: same values and gradients, one tensor, follows assign, freed on dispose', async () => {
  for (const backend of BACKENDS) {
    await use(backend);
    const start = tf.memory().numTensors;
    const fc = new Linear(24, 40, { rng: new Rng(1) });
    const x = tf.randomNormal([7, 24], 0, 1, 'float32', 3);
    const vars = fc.namedParameters().map(([, v]) => v);
    const run = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(fc.forward(x))) as tf.Scalar, vars);
      const out = { loss: value.dataSync()[0] as number, grads: vars.map((v) => (grads[v.name] as tf.Tensor).dataSync().slice()) };
      tf.dispose([value, ...Object.values(grads)]);
      return out;
    };
    const plain = run();
    const base = tf.memory().numTensors;
    const cache = transposeFlagsFree() ? 0 : 1;
    const cached1 = withWeightCache(run);
    assert.equal(tf.memory().numTensors, base + cache, `${backend}: the cache is ${cache} tensor(s)`);
    const cached2 = withWeightCache(run);
    assert.equal(tf.memory().numTensors, base + cache, `${backend}: reused, not rebuilt`);
    for (const c of [cached1, cached2]) {
      assert.ok(Math.abs(c.loss - plain.loss) <= 1e-5 * Math.abs(plain.loss), backend);
      c.grads.forEach((g, i) => assert.ok(maxAbsDiff(g, plain.grads[i] as Float32Array) <= 1e-5, `${backend}: grad ${i}`));
    }
    // A new weight value (optimizer or EMA assign) must not be served the stale Wᵀ.
    const w2 = tf.mul(fc.weight, -2);
    fc.weight.assign(w2);
    w2.dispose();
    const after = withWeightCache(() => tf.tidy(() => fc.forward(x).dataSync().slice()));
    const expected = tf.tidy(() => tf.add(tf.matMul(x, fc.weight, false, true), fc.bias as tf.Tensor).dataSync().slice());
    assert.ok(maxAbsDiff(after, expected) <= 1e-5, `${backend}: stale transposed weight`);
    assert.equal(tf.memory().numTensors, base + cache, `${backend}: the old Wᵀ was freed`);
    fc.dispose();
    x.dispose();
    assert.equal(tf.memory().numTensors, start, `${backend}: dispose frees the cache`);
  }
});

// In eval mode (inference) a Linear keeps Wᵀ on wasm across forward passes without
// withWeightCache; train() frees it. Values equal the training-mode path.
test('Linear in eval mode keeps Wᵀ across calls on wasm, follows assign, releaseCaches() and train() free it', async () => {
  for (const backend of BACKENDS) {
    await use(backend);
    const fc = new Linear(24, 40, { rng: new Rng(2) });
    const x = tf.randomNormal([7, 24], 0, 1, 'float32', 4);
    const base = tf.memory().numTensors;
    const plain = tf.tidy(() => fc.forward(x).dataSync().slice());
    assert.equal(tf.memory().numTensors, base, `${backend}: training mode keeps nothing`);
    fc.eval();
    const cache = transposeFlagsFree() ? 0 : 1;
    for (let i = 0; i < 3; i++) {
      const y = tf.tidy(() => fc.forward(x).dataSync().slice());
      assert.ok(maxAbsDiff(y, plain) <= 1e-5, `${backend}: eval output`);
      assert.equal(tf.memory().numTensors, base + cache, `${backend}: Wᵀ kept once, call ${i}`);
    }
    const w2 = tf.mul(fc.weight, 3);
    fc.weight.assign(w2);
    w2.dispose();
    const after = tf.tidy(() => fc.forward(x).dataSync().slice());
    const expected = tf.tidy(() => tf.add(tf.matMul(x, fc.weight, false, true), fc.bias as tf.Tensor).dataSync().slice());
    assert.ok(maxAbsDiff(after, expected) <= 1e-5, `${backend}: stale Wᵀ after assign`);
    assert.equal(tf.memory().numTensors, base + cache, `${backend}: the old Wᵀ was freed`);
    fc.releaseCaches();
    assert.equal(tf.memory().numTensors, base, `${backend}: releaseCaches() frees the inference Wᵀ`);
    tf.tidy(() => void fc.forward(x));
    assert.equal(tf.memory().numTensors, base + cache, `${backend}: rebuilt on the next call`);
    fc.train();
    assert.equal(tf.memory().numTensors, base, `${backend}: train() frees the inference Wᵀ`);
    fc.dispose();
    x.dispose();
  }
});
