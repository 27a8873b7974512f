import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@selfpatch/nn';
import { maxAbsDiff } from '@selfpatch/nn/testing';
import { BACKENDS, use } from '@selfpatch/backend/testing';
import { neighbourhood, matchPositives, gatherPositives, SelfPatchHead, patchLoss, updatePatchCenter, type NeighbourhoodOptions } from '../src/index.js';

function randTokens(b: number, n: number, c: number, seed: number): tf.Tensor3D {
  const r = new Rng(seed);
  return tf.tensor3d(Float32Array.from({ length: b * n * c }, () => r.normal()), [b, n, c]);
}

test('neighbour tables: official torus order, clamp, 5x5 and all; any grid', () => {
  // Corner (0,0) of 14x14 wraps to rows/cols 13: hand-derived ids, ascending.
  assert.deepEqual(Array.from(neighbourhood(14, 14).table.subarray(0, 8)), [1, 13, 14, 15, 27, 182, 183, 195]);
  const ns = neighbourhood(5, 8);
  for (let p = 0; p < 40; p++) {
    const row = Array.from(ns.table.subarray(p * 8, p * 8 + 8));
    assert.equal(new Set(row).size, 8);
    assert.ok(!row.includes(p));
    assert.deepEqual(row, [...row].sort((a, b) => a - b));
  }
  const cl = neighbourhood(4, 6, { border: 'clamp' });
  assert.equal(cl.minCount, 3);
  assert.deepEqual(Array.from(cl.table.subarray(0, 8)), [1, 6, 7, -1, -1, -1, -1, -1]);
  assert.equal(neighbourhood(6, 6, { kernel: 5 }).size, 24);
  const all = neighbourhood(3, 4, { kernel: 'all' });
  assert.equal(all.size, 11);
  assert.deepEqual(Array.from(all.table.subarray(5 * 11, 6 * 11)), [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11]);
  assert.throws(() => neighbourhood(2, 8), { name: 'ShapeError', message: /smaller than the 3x3/ });
  assert.throws(() => neighbourhood(6, 6, { kernel: 7 as 3 }), { name: 'ConfigError' });
});

/** Brute-force reference: cosine similarity to every table candidate and the top-k set. */
function bruteForce(tokens: Float32Array, b: number, n: number, c: number, table: Int32Array, size: number, k: number) {
  const norm = (i: number) => Math.max(Math.hypot(...tokens.subarray(i * c, i * c + c)), 1e-12);
  const sets: number[][] = [];
  const sims: number[] = [];
  for (let bi = 0; bi < b; bi++) {
    for (let p = 0; p < n; p++) {
      const cand: Array<[number, number]> = [];
      for (let s = 0; s < size; s++) {
        const q = table[p * size + s] as number;
        if (q < 0) {
          sims.push(-Infinity);
          continue;
        }
        let dot = 0;
        for (let j = 0; j < c; j++) dot += (tokens[(bi * n + p) * c + j] as number) * (tokens[(bi * n + q) * c + j] as number);
        const v = dot / norm(bi * n + p) / norm(bi * n + q);
        sims.push(v);
        cand.push([v, q]);
      }
      sets.push(cand.sort((x, y) => y[0] - x[0]).slice(0, k).map(([, q]) => q).sort((x, y) => x - y));
    }
  }
  return { sets, sims };
}

const MATCH_CASES: Array<[string, number, number, NeighbourhoodOptions & { k: number }]> = [
  ['torus 3x3 on 5x7', 5, 7, { k: 4 }],
  ['clamp 3x3 on 4x6', 4, 6, { k: 3, border: 'clamp' }],
  ['torus 5x5 on 6x5', 6, 5, { k: 8, kernel: 5 }],
  ['all on 4x5', 4, 5, { k: 2, kernel: 'all' }],
];

for (const [name, h, w, opts] of MATCH_CASES) {
  test(`matching (${name}): similarities and top-k sets equal a brute-force reference on cpu and wasm`, async () => {
    for (const backend of BACKENDS) {
      await use(backend);
      const b = 2;
      const c = 6;
      const tokens = randTokens(b, h * w, c, 17);
      const m = matchPositives(tokens, { h, w }, opts);
      const ref = bruteForce(tokens.dataSync() as Float32Array, b, h * w, c, m.nb.table, m.nb.size, opts.k);
      assert.ok(maxAbsDiff(Array.from(m.similarity).map((v) => (Number.isFinite(v) ? v : -9)), ref.sims.map((v) => (Number.isFinite(v) ? v : -9))) < 1e-5);
      ref.sets.forEach((set, row) => {
        assert.deepEqual(Array.from(m.ids.subarray(row * opts.k, row * opts.k + opts.k)).sort((x, y) => x - y), set, `${backend} row ${row}`);
      });
      tokens.dispose();
    }
  });
}

test('ties are broken by the lower table slot, deterministically', async () => {
  await use('cpu');
  const same = tf.ones([1, 36, 4]) as tf.Tensor3D;
  const m = matchPositives(same, { h: 6, w: 6 }, { k: 4 });
  for (let row = 0; row < 36; row++) assert.deepEqual(Array.from(m.slots.subarray(row * 4, row * 4 + 4)), [0, 1, 2, 3]);
  assert.throws(() => matchPositives(same, { h: 6, w: 6 }, { k: 9 }), { name: 'ConfigError', message: /k=9 exceeds the 8 candidates/ });
  assert.throws(() => matchPositives(same, { h: 5, w: 6 }, { k: 4 }), { name: 'ShapeError' });
});

for (const border of ['torus', 'clamp'] as const) {
  test(`gatherPositives (${border}): gather forward, gather-free backward equal to gather's gradient`, async () => {
    for (const backend of BACKENDS) {
      await use(backend);
      const [b, h, w, c] = [2, 4, 5, 3];
      const x = randTokens(b, h * w, c, 5);
      const m = matchPositives(x, { h, w }, { k: 3, border });
      const weights = randTokens(b * h * w, 3, c, 6);
      const ours = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(gatherPositives(t as tf.Tensor3D, m), weights)))(x);
      const flat = Int32Array.from(m.ids, (id, i) => Math.floor(i / (h * w * 3)) * h * w + id);
      await use('cpu'); // stock gather gradient as the reference (UnsortedSegmentSum exists on cpu)
      const refX = tf.tensor(x.dataSync(), x.shape);
      const refW = tf.tensor(weights.dataSync(), weights.shape);
      const ref = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.reshape(tf.gather(tf.reshape(t, [b * h * w, c]), tf.tensor1d(flat, 'int32')), [b * h * w, 3, c]), refW)))(refX);
      assert.ok(maxAbsDiff(ours.dataSync(), ref.dataSync()) < 1e-5, `${backend}`);
    }
  });
}

test('SelfPatchHead: image token identical for loc true/false; avgpool ablation; errors', async () => {
  for (const backend of BACKENDS) {
    await use(backend);
    const head = new SelfPatchHead(12, { numHeads: 3, rng: new Rng(1) });
    const x = randTokens(2, 30, 12, 3);
    const a = head.forward(x, { loc: false }).out;
    const bOut = head.forward(x, { loc: true, grid: { h: 5, w: 6 } }).out;
    assert.deepEqual(a.shape, [2, 31, 12]);
    assert.deepEqual(bOut.shape, [2, 31, 12]);
    assert.ok(maxAbsDiff(tf.slice(a, [0, 0, 0], [2, 1, 12]), tf.slice(bOut, [0, 0, 0], [2, 1, 12])) < 1e-6);
    assert.ok(maxAbsDiff(tf.slice(a, [0, 1, 0], [2, 30, 12]), tf.slice(bOut, [0, 1, 0], [2, 30, 12])) > 1e-3);
    assert.deepEqual(Object.keys(head.stateDict()).slice(0, 3), ['cls_token', 'cls_blocks.0.norm1.weight', 'cls_blocks.0.norm1.bias']);
    const avg = new SelfPatchHead(12, { numHeads: 3, aggregation: 'avgpool' });
    assert.deepEqual(Object.keys(avg.stateDict()), ['norm.weight', 'norm.bias']);
    assert.deepEqual(avg.forward(x, { loc: true, grid: { h: 5, w: 6 }, matching: { k: 2 } }).out.shape, [2, 31, 12]);
    assert.throws(() => head.forward(x, { loc: true }), { name: 'ConfigError' });
    assert.throws(() => head.forward(randTokens(1, 30, 8, 1), { loc: false }), { name: 'ShapeError' });
    head.dispose();
    avg.dispose();
  }
});

test('teacher and student head passes with backward leak no tensors (cpu and wasm)', async () => {
  for (const backend of BACKENDS) {
    await use(backend);
    const head = new SelfPatchHead(12, { numHeads: 3, rng: new Rng(2) });
    const x = randTokens(2, 36, 12, 4);
    const vars = head.trainableVariables();
    const step = () => {
      const teacher = tf.tidy(() => head.forward(x, { loc: true, grid: { h: 6, w: 6 } }).out);
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(head.forward(x, { loc: false }).out, teacher))) as tf.Scalar, vars);
      tf.dispose([teacher, value, ...Object.values(grads)]);
    };
    step();
    const base = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) step();
    assert.equal(tf.memory().numTensors, base, backend);
    head.dispose();
    x.dispose();
  }
});

test('patch loss and its gradient follow docs/selfpatch.md §4; the center is a patch-count-weighted mean', async () => {
  await use('cpu');
  const s = [randTokens(2, 4, 5, 1), randTokens(2, 2, 5, 2)];
  const t = [randTokens(2, 4, 5, 3), randTokens(2, 2, 5, 4)];
  const center = tf.tensor2d([[0.1, -0.2, 0, 0.3, 0.05]]);
  const tauT = 0.04;
  const tauS = 0.1;
  const loss = patchLoss(s, t, center, { teacherTemp: tauT });
  const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => patchLoss([a, b], t, center, { teacherTemp: tauT }))(s);
  // Independent host computation: CE per patch, mean per crop, mean over crops; ∂/∂s = (p − q)/τs / (B·N_i) / crops.
  const softmax = (v: number[]) => {
    const mx = Math.max(...v);
    const e = v.map((x) => Math.exp(x - mx));
    const z = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / z);
  };
  let total = 0;
  s.forEach((si, crop) => {
    const sv = si.arraySync() as number[][][];
    const tv = (t[crop] as tf.Tensor).arraySync() as number[][][];
    const cv = center.arraySync()[0] as number[];
    const rows = sv.length * (sv[0] as number[][]).length;
    let ce = 0;
    const g = (grads[crop] as tf.Tensor).arraySync() as number[][][];
    sv.forEach((sb, bi) =>
      sb.forEach((sr, n) => {
        const q = softmax(((tv[bi] as number[][])[n] as number[]).map((v, j) => (v - (cv[j] as number)) / tauT));
        const p = softmax(sr.map((v) => v / tauS));
        ce -= q.reduce((acc, qj, j) => acc + qj * Math.log(p[j] as number), 0);
        p.forEach((pj, j) => assert.ok(Math.abs(((g[bi] as number[][])[n] as number[])[j] as number - (pj - (q[j] as number)) / tauS / rows / 2) < 1e-5));
      }),
    );
    total += ce / rows / 2;
  });
  assert.ok(Math.abs((loss.dataSync()[0] as number) - total) < 1e-4);
  const newCenter = updatePatchCenter(center, t, 0.9);
  const all = t.flatMap((ti) => ti.arraySync() as number[][][]).flat();
  const mean = [0, 1, 2, 3, 4].map((j) => all.reduce((a, r) => a + (r[j] as number), 0) / all.length);
  assert.ok(maxAbsDiff(newCenter, mean.map((m, j) => 0.9 * (center.dataSync()[j] as number) + 0.1 * m)) < 1e-6);
  assert.throws(() => patchLoss(s, [t[0] as tf.Tensor], center, { teacherTemp: tauT }), { name: 'ShapeError' });
});
