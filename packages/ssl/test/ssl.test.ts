import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@selfpatch/nn';
import { vitConfig } from '@selfpatch/vit';
import { maxAbsDiff } from '@selfpatch/nn/testing';
import { BACKENDS, use } from '@selfpatch/backend/testing';
import { DINOHead, DINOLoss, SelfPatchDINO, DINOTrainer, NonFiniteLossError, cosineSchedule, paramGroups } from '../src/index.js';

function tinyNet(seed: number, dropPathRate = 0): SelfPatchDINO {
  return new SelfPatchDINO(
    { backbone: vitConfig('vit_tiny', { embedDim: 24, depth: 2, numHeads: 2, imgSize: 64, dropPathRate }), outDim: 16, patchOutDim: 8, hiddenDim: 16, bottleneckDim: 8 },
    new Rng(seed),
  );
}

function crops(b: number, seed: number): tf.Tensor4D[] {
  const r = new Rng(seed);
  const mk = (s: number) => tf.tensor4d(Float32Array.from({ length: b * 3 * s * s }, () => r.normal()), [b, 3, s, s]);
  return [mk(64), mk(64), mk(48), mk(48), mk(48)];
}

function setup(seed: number, microBatch?: number, singleGraph = false, dropPathRate = 0) {
  const student = tinyNet(seed, dropPathRate);
  const teacher = tinyNet(seed + 1);
  teacher.loadStateDict(student.stateDict());
  const loss = new DINOLoss({ outDim: 16, patchOutDim: 8, ncrops: 5, nepochs: 2 });
  const schedules = { lr: cosineSchedule(1e-3, 1e-6, 2, 4, 1), wd: cosineSchedule(0.04, 0.4, 2, 4), momentum: cosineSchedule(0.996, 1, 2, 4) };
  return new DINOTrainer({ student, teacher, loss, schedules, niterPerEpoch: 4, microBatch, singleGraph });
}

test('DINOHead keys and variants: default, BatchNorm, one layer; weight_g frozen unless normLastLayer=false', async () => {
  await use('cpu');
  const h = new DINOHead(8, 10, { hiddenDim: 6, bottleneckDim: 4, rng: new Rng(1) });
  assert.deepEqual(Object.keys(h.stateDict()), ['mlp.0.weight', 'mlp.0.bias', 'mlp.2.weight', 'mlp.2.bias', 'mlp.4.weight', 'mlp.4.bias', 'last_layer.weight_g', 'last_layer.weight_v']);
  assert.equal(h.lastLayer.weightG.trainable, false);
  const bn = new DINOHead(8, 10, { hiddenDim: 6, bottleneckDim: 4, useBn: true, normLastLayer: false });
  assert.deepEqual(Object.keys(bn.stateDict()).filter((k) => k.startsWith('mlp.1.')), ['mlp.1.weight', 'mlp.1.bias', 'mlp.1.running_mean', 'mlp.1.running_var', 'mlp.1.num_batches_tracked']);
  assert.equal(bn.lastLayer.weightG.trainable, true);
  assert.deepEqual(bn.forward(tf.randomNormal([5, 8])).shape, [5, 10]);
  const one = new DINOHead(8, 10, { nlayers: 1, bottleneckDim: 4 });
  assert.deepEqual(Object.keys(one.stateDict()), ['mlp.weight', 'mlp.bias', 'last_layer.weight_g', 'last_layer.weight_v']);
  // Rows of the effective last-layer weight are unit-norm: logits of a unit vector are bounded by 1.
  const logits = h.forward(tf.randomNormal([3, 8])).dataSync();
  assert.ok(Array.from(logits).every((v) => Math.abs(v) <= 1 + 1e-6));
  const groups = paramGroups(bn.namedParameters());
  assert.ok(groups.regularized.some(([n]) => n === 'last_layer.weight_g'), 'a trainable weight_g [out,1] is weight-decayed');
  assert.ok(groups.notRegularized.some(([n]) => n === 'mlp.1.weight'), 'BatchNorm weight (1-D) is not decayed');
});

test('micro-batched student steps equal the single-graph step (cpu and wasm)', async () => {
  for (const backend of BACKENDS) {
    await use(backend);
    const whole = setup(3, undefined, true); // one graph over every crop
    const micro = setup(3, 3); // chunks of 3 images straddle crop boundaries (batch 4)
    const perGroup = setup(3); // one graph per resolution
    for (let it = 0; it < 2; it++) {
      const c = crops(4, 10 + it);
      const a = whole.step(c, it);
      const b = micro.step(c, it);
      const g = perGroup.step(c, it);
      assert.ok(Math.abs(a.loss - b.loss) < 1e-5 * Math.max(1, Math.abs(a.loss)), `${backend} loss ${a.loss} vs ${b.loss}`);
      assert.ok(Math.abs(a.loss - g.loss) < 1e-5 * Math.max(1, Math.abs(a.loss)), `${backend} loss ${a.loss} vs ${g.loss}`);
      tf.dispose(c);
    }
    // Attention key biases have zero true gradient: AdamW turns their rounding noise into
    // lr-sized updates (docs/selfpatch.md §9), so they are compared outside that part only.
    const pa = new Map(whole.student.namedParameters());
    for (const [name, v] of micro.student.namedParameters()) {
      if (name.endsWith('attn.k.bias')) continue;
      let a = v.dataSync();
      let b = (pa.get(name) as tf.Variable).dataSync();
      if (name.endsWith('attn.qkv.bias')) {
        const c = a.length / 3;
        a = Float32Array.from([...a.slice(0, c), ...a.slice(2 * c)]);
        b = Float32Array.from([...b.slice(0, c), ...b.slice(2 * c)]);
      }
      assert.ok(maxAbsDiff(a, b) < 2e-6, `${backend} ${name}: ${maxAbsDiff(a, b)}`);
    }
    for (const t of [whole, micro, perGroup]) {
      t.student.dispose();
      t.teacher.dispose();
      t.loss.dispose();
      t.optimizer.dispose();
    }
  }
});

test('training steps keep the tensor count flat after the optimizer state exists (cpu and wasm)', async () => {
  for (const backend of BACKENDS) {
    await use(backend);
    const tr = setup(5, 4);
    const c = crops(2, 1);
    // Epoch 0 freezes the last layer (no Adam state for it yet); the state is complete from
    // the first step of epoch 1 (iteration 4) on.
    for (let it = 0; it <= 4; it++) tr.step(c, it);
    const base = tf.memory().numTensors;
    for (let it = 5; it < 8; it++) tr.step(c, it);
    assert.equal(tf.memory().numTensors, base, backend);
    tf.dispose(c);
  }
});

test('a non-finite loss stops the step before any parameter changes', async () => {
  await use('cpu');
  const tr = setup(7);
  const c = crops(2, 2);
  c[0] = tf.fill([2, 3, 64, 64], NaN) as tf.Tensor4D;
  const before = tr.student.namedParameters().map(([, v]) => v.dataSync().slice());
  const centerBefore = tr.loss.center.dataSync().slice();
  assert.throws(() => tr.step(c, 0), (err: unknown) => err instanceof NonFiniteLossError && /iteration 0/.test(err.message));
  tr.student.namedParameters().forEach(([, v], i) => assert.deepEqual(v.dataSync(), before[i]));
  assert.deepEqual(tr.loss.center.dataSync(), centerBefore);
  assert.throws(() => tr.step(c, 99), { name: 'ConfigError' });
});

test('weight-normalised last layer: value and gradients (x, weight_v, trainable weight_g) equal autodiff of W = g·V/‖V‖', async () => {
  for (const backend of BACKENDS) {
    await use(backend);
    const head = new DINOHead(6, 9, { hiddenDim: 5, bottleneckDim: 4, normLastLayer: false, rng: new Rng(2) });
    const ll = head.lastLayer;
    ll.weightG.assign(tf.randomUniform([9, 1], 0.5, 1.5, 'float32', 3));
    const x = tf.randomNormal([7, 4], 0, 1, 'float32', 4);
    const proj = tf.randomNormal([7, 9], 0, 1, 'float32', 5);
    const vars = [ll.weightV, ll.weightG];
    const mine = tf.variableGrads(() => tf.sum(tf.mul(ll.forward(x), proj)) as tf.Scalar, vars);
    const ref = tf.variableGrads(() => {
      const w = tf.mul(ll.weightG, tf.div(ll.weightV, tf.sqrt(tf.sum(tf.square(ll.weightV), 1, true))));
      return tf.sum(tf.mul(tf.matMul(x, w, false, true), proj)) as tf.Scalar;
    }, vars);
    assert.ok(Math.abs((mine.value.dataSync()[0] as number) - (ref.value.dataSync()[0] as number)) < 1e-4);
    for (const v of vars) assert.ok(maxAbsDiff(mine.grads[v.name] as tf.Tensor, ref.grads[v.name] as tf.Tensor) < 1e-5, `${backend} ${v.name}`);
    const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(ll.forward(a), proj)))(x);
    const dxRef = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.matMul(a, ll.weight(), false, true), proj)))(x);
    assert.ok(maxAbsDiff(dx, dxRef) < 1e-5);
    // The cached Vᵀ and norms follow assignments to weight_v.
    const before = ll.forward(x).dataSync().slice();
    ll.weightV.assign(tf.mul(ll.weightV, 2));
    ll.weightV.assign(tf.add(ll.weightV, 0.1));
    assert.notDeepEqual(Array.from(ll.forward(x).dataSync()), Array.from(before));
    assert.ok(maxAbsDiff(ll.forward(x), tf.matMul(x, ll.weight(), false, true)) < 1e-5);
    head.dispose();
  }
});

test('clipGradNorm scales every gradient by max/(‖g‖ + 1e-6) when the global norm exceeds max', async () => {
  const { clipGradNorm } = await import('../src/index.js');
  await use('cpu');
  const a = tf.tensor1d([3, 4]);
  const b = tf.tensor2d([[12]]);
  const grads = new Map<string, tf.Tensor | null>([['a', a], ['b', b], ['frozen', null]]);
  const total = clipGradNorm(grads, 6.5);
  assert.ok(Math.abs(total - 13) < 1e-5);
  const coef = 6.5 / (13 + 1e-6);
  assert.ok(maxAbsDiff(grads.get('a') as tf.Tensor, [3 * coef, 4 * coef]) < 1e-6);
  assert.ok(maxAbsDiff(grads.get('b') as tf.Tensor, [12 * coef]) < 1e-6);
  const small = new Map<string, tf.Tensor | null>([['a', tf.tensor1d([0.1])]]);
  clipGradNorm(small, 6.5);
  assert.ok(maxAbsDiff(small.get('a') as tf.Tensor, [0.1]) < 1e-7);
});

test('resume: state saved after 2 steps, round-tripped through .pth bytes and restored into fresh models, continues bit-exactly (cpu)', async () => {
  const { serializePth, parsePth } = await import('@selfpatch/checkpoint');
  await use('cpu');
  const data = [0, 1, 2, 3].map((it) => crops(2, 40 + it));
  const straight = setup(9, 3, false, 0.2);
  for (let it = 0; it < 4; it++) straight.step(data[it] as tf.Tensor4D[], it);
  const first = setup(9, 3, false, 0.2);
  for (let it = 0; it < 2; it++) first.step(data[it] as tf.Tensor4D[], it);
  const bytes = serializePth(first.getState() as unknown as Record<string, unknown>);
  const resumed = setup(123, 3, false, 0.2); // different initial weights and RNG
  resumed.setState(parsePth(bytes) as never);
  for (let it = 2; it < 4; it++) resumed.step(data[it] as tf.Tensor4D[], it);
  const ref = new Map(straight.student.namedParameters());
  for (const [name, v] of resumed.student.namedParameters()) {
    assert.deepEqual(Array.from(v.dataSync()), Array.from((ref.get(name) as tf.Variable).dataSync()), name);
  }
  const refT = new Map(straight.teacher.namedParameters());
  for (const [name, v] of resumed.teacher.namedParameters()) assert.deepEqual(Array.from(v.dataSync()), Array.from((refT.get(name) as tf.Variable).dataSync()), `teacher ${name}`);
  assert.deepEqual(Array.from(resumed.loss.center.dataSync()), Array.from(straight.loss.center.dataSync()));
  data.flat().forEach((t) => t.dispose());
});

test('emaUpdate: θ_t ← m·θ_t + (1−m)·θ_s on every parameter, and a missing student parameter changes nothing', async () => {
  const { Linear, Module } = await import('@selfpatch/nn');
  const { emaUpdate } = await import('../src/index.js');
  for (const backend of BACKENDS) {
    await use(backend);
    const teacher = new Linear(3, 2, { rng: new Rng(1) });
    const student = new Linear(3, 2, { rng: new Rng(2) });
    const before = teacher.namedParameters().map(([n, v]) => [n, v.dataSync().slice()] as const);
    const s = new Map(student.namedParameters().map(([n, v]) => [n, v.dataSync().slice()]));
    emaUpdate(teacher, student, 0.9);
    for (const [n, v] of teacher.namedParameters()) {
      const t0 = before.find(([m]) => m === n)?.[1] as Float32Array;
      const expect = t0.map((x, i) => Math.fround(Math.fround(x * 0.9) + Math.fround((s.get(n) as Float32Array)[i] as number * Math.fround(1 - 0.9))));
      assert.ok(maxAbsDiff(v, expect) < 1e-6, `${backend} ${n}`);
    }
    // A student without `bias`: a ShapeError naming it, and the teacher untouched.
    class NoBias extends Module {
      constructor() {
        super();
        this.addParameter('weight', tf.zeros([2, 3]));
      }
    }
    const snapshot = teacher.namedParameters().map(([, v]) => v.dataSync().slice());
    assert.throws(() => emaUpdate(teacher, new NoBias(), 0.5, 'MoBY momentum update'), (e: Error) => e.name === 'ShapeError' && /MoBY momentum update.*'bias'/.test(e.message));
    teacher.namedParameters().forEach(([, v], i) => assert.deepEqual(v.dataSync(), snapshot[i]));
  }
});
