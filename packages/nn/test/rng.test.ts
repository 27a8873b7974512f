import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useStock as use } from '@selfpatch/nn/testing';
import { Rng, truncNormal, erfinv, uniformInit, withoutInit } from '../src/index.js';

test('Rng is deterministic, resumable from its state, and forks independent streams', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const seqA = Array.from({ length: 10 }, () => a.uniform());
  assert.deepEqual(seqA, Array.from({ length: 10 }, () => b.uniform()));
  a.normal();
  const state = a.getState();
  const next = [a.normal(), a.uniform(), a.normal()];
  a.setState(JSON.parse(JSON.stringify(state)));
  assert.deepEqual([a.normal(), a.uniform(), a.normal()], next);
  assert.notDeepEqual(new Rng(1).uniform(), new Rng(2).uniform());
  const f1 = new Rng(42).fork('augment');
  const f2 = new Rng(42).fork('drop-path');
  assert.notEqual(f1.uniform(), f2.uniform());
  assert.equal(new Rng(42).fork('augment').uniform(), new Rng(42).fork('augment').uniform());
});

test('Rng moments: uniform mean 1/2 var 1/12, normal mean 0 var 1', () => {
  const r = new Rng(7);
  const n = 200000;
  let su = 0, su2 = 0, sn = 0, sn2 = 0;
  for (let i = 0; i < n; i++) {
    const u = r.uniform();
    assert.ok(u >= 0 && u < 1);
    su += u; su2 += u * u;
    const z = r.normal();
    sn += z; sn2 += z * z;
  }
  assert.ok(Math.abs(su / n - 0.5) < 0.005);
  assert.ok(Math.abs(su2 / n - 0.25 - 1 / 12) < 0.005);
  assert.ok(Math.abs(sn / n) < 0.01);
  assert.ok(Math.abs(sn2 / n - 1) < 0.01);
});

test('erfinv inverts erf; truncNormal has the right std and respects absolute bounds', async () => {
  await use('cpu');
  for (const x of [-0.999, -0.5, -0.1, 0, 0.3, 0.9, 0.9999]) {
    const y = erfinv(x);
    const back = tf.erf(tf.scalar(y)).dataSync()[0] as number;
    assert.ok(Math.abs(back - x) < 2e-6, `erf(erfinv(${x})) = ${back}`);
  }
  const t = truncNormal([100000], new Rng(1), { std: 0.02 }).dataSync();
  let s = 0, s2 = 0;
  for (const v of t) { s += v; s2 += v * v; }
  assert.ok(Math.abs(Math.sqrt(s2 / t.length - (s / t.length) ** 2) - 0.02) < 5e-4);
  const tight = truncNormal([10000], new Rng(2), { std: 1, a: -0.5, b: 0.5 }).dataSync();
  assert.ok(tight.every((v) => v >= -0.5 && v <= 0.5));
  // Truncated to [-0.5, 0.5] the variance is well below 1 (≈0.0797 for the standard normal).
  let v2 = 0;
  for (const v of tight) v2 += v * v;
  assert.ok(Math.abs(v2 / tight.length - 0.0797) < 0.005);
});

test('withoutInit: initialisers return zeros without drawing inside, draw again after (also after a throw)', async () => {
  await use('cpu');
  const rng = new Rng(3);
  const state = rng.getState();
  const [t, u] = withoutInit(() => [truncNormal([4, 5], rng, { std: 0.02 }), uniformInit([7], rng, -1, 1)]);
  assert.deepEqual(Array.from(t.dataSync()), new Array(20).fill(0));
  assert.deepEqual(Array.from(u.dataSync()), new Array(7).fill(0));
  assert.deepEqual(rng.getState(), state, 'no draws');
  assert.throws(() => withoutInit(() => {
    throw new Error('build failed');
  }), /build failed/);
  const drawn = truncNormal([50], rng, { std: 0.02 }).dataSync();
  assert.ok(drawn.some((v) => v !== 0), 'drawing again after the scope');
  assert.notDeepEqual(rng.getState(), state);
});
