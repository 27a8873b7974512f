import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useStock as use, maxAbsDiff, PORTABLE_BACKENDS as BACKENDS } from '@selfpatch/nn/testing';
import { Attention, ClassAttention, LayerNorm, Linear, Mlp, Module, Rng, StateDictError, DropPath, gelu } from '../src/index.js';

class Block extends Module {
  readonly norm1: LayerNorm;
  readonly attn: Attention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  constructor(dim: number, heads: number, rng: Rng) {
    super();
    this.norm1 = this.addModule('norm1', new LayerNorm(dim, 1e-6));
    this.attn = this.addModule('attn', new Attention(dim, heads, { rng }));
    this.norm2 = this.addModule('norm2', new LayerNorm(dim, 1e-6));
    this.mlp = this.addModule('mlp', new Mlp(dim, { hiddenFeatures: 4 * dim, rng }));
  }
  forward(x: tf.Tensor3D): tf.Tensor3D {
    const y = tf.add(x, this.attn.forward(this.norm1.forward(x) as tf.Tensor3D).out);
    return tf.add(y, this.mlp.forward(this.norm2.forward(y))) as tf.Tensor3D;
  }
}

test('state dict keys follow PyTorch naming and registration order', async () => {
  await use('cpu');
  const b = new Block(12, 3, new Rng(0));
  assert.deepEqual(Object.keys(b.stateDict('blocks.0.')), [
    'blocks.0.norm1.weight', 'blocks.0.norm1.bias',
    'blocks.0.attn.qkv.weight', 'blocks.0.attn.qkv.bias', 'blocks.0.attn.proj.weight', 'blocks.0.attn.proj.bias',
    'blocks.0.norm2.weight', 'blocks.0.norm2.bias',
    'blocks.0.mlp.fc1.weight', 'blocks.0.mlp.fc1.bias', 'blocks.0.mlp.fc2.weight', 'blocks.0.mlp.fc2.bias',
  ]);
  assert.deepEqual(b.attn.qkv.weight.shape, [36, 12]);
  assert.equal(b.numParameters(), 12 * 4 + 36 * 12 + 36 + 144 + 12 + 48 * 12 + 48 + 12 * 48 + 12);
  b.dispose();
});

test('loadStateDict lists missing, unexpected and mis-shaped keys and changes nothing on error', async () => {
  await use('cpu');
  const a = new Linear(4, 3, { rng: new Rng(1) });
  const before = a.weight.dataSync().slice();
  const bad = { weight: tf.zeros([3, 5]), extra: tf.zeros([1]) };
  try {
    a.loadStateDict(bad, { context: 'ckpt.pth' });
    assert.fail('should throw');
  } catch (err) {
    assert.ok(err instanceof StateDictError);
    assert.deepEqual(err.missing, ['bias']);
    assert.deepEqual(err.unexpected, ['extra']);
    assert.deepEqual(err.mismatched, [{ key: 'weight', expected: [3, 4], actual: [3, 5] }]);
    assert.match(err.message, /ckpt\.pth/);
  }
  assert.deepEqual(a.weight.dataSync(), before);
  // Non-strict: missing/unexpected are reported, present keys load.
  const res = a.loadStateDict({ weight: tf.ones([3, 4]), extra: tf.zeros([1]) }, { strict: false });
  assert.deepEqual(res, { missing: ['bias'], unexpected: ['extra'] });
  assert.deepEqual(Array.from(a.weight.dataSync()), new Array(12).fill(1));
  // Raw tensors from files load too.
  a.loadStateDict({ weight: { dtype: 'float16', shape: [3, 4], data: new Float32Array(12).fill(0.5) }, bias: { dtype: 'float64', shape: [3], data: new Float64Array([1, 2, 3]) } });
  assert.deepEqual(Array.from(a.bias?.dataSync() ?? []), [1, 2, 3]);
});

test('Attention matches a direct implementation of the PyTorch fused-qkv layout on cpu and wasm', async () => {
  for (const backend of BACKENDS) {
    await use(backend);
    const rng = new Rng(2);
    const attn = new Attention(12, 3, { rng, init: 'torch_default' });
    const x = tf.randomNormal([2, 5, 12], 0, 1, 'float32', 7) as tf.Tensor3D;
    const { out, attn: probs } = attn.forward(x, true);
    // Reference: qkv.reshape(B,N,3,H,D).permute(2,0,3,1,4) written with explicit per-head slices.
    const qkv = tf.add(tf.matMul(tf.reshape(x, [10, 12]), attn.qkv.weight, false, true), attn.qkv.bias as tf.Tensor);
    const heads: tf.Tensor[] = [];
    const refProbs: tf.Tensor[] = [];
    for (let b = 0; b < 2; b++) {
      const rows = tf.slice(qkv, [b * 5, 0], [5, 36]);
      const perHead: tf.Tensor[] = [];
      for (let h = 0; h < 3; h++) {
        const q = tf.slice(rows, [0, h * 4], [5, 4]);
        const k = tf.slice(rows, [0, 12 + h * 4], [5, 4]);
        const v = tf.slice(rows, [0, 24 + h * 4], [5, 4]);
        const p = tf.softmax(tf.mul(tf.matMul(q, k, false, true), 0.5));
        refProbs.push(p);
        perHead.push(tf.matMul(p, v));
      }
      heads.push(tf.concat(perHead, 1));
    }
    const ref = tf.add(tf.matMul(tf.concat(heads, 0), attn.proj.weight, false, true), attn.proj.bias as tf.Tensor);
    assert.ok(maxAbsDiff(out, ref) < 1e-5, `${backend}: ${maxAbsDiff(out, ref)}`);
    assert.ok(maxAbsDiff(probs as tf.Tensor, tf.stack(refProbs)) < 1e-6);
    attn.dispose();
  }
});

test('ClassAttention matches a direct implementation of CaiT class attention', async () => {
  for (const backend of BACKENDS) {
    await use(backend);
    const ca = new ClassAttention(12, 3, { rng: new Rng(4), init: 'torch_default' });
    const u = tf.randomNormal([2, 6, 12], 0, 1, 'float32', 9) as tf.Tensor3D;
    const { out } = ca.forward(u);
    const lin = (l: Linear, t: tf.Tensor) => tf.add(tf.matMul(t as tf.Tensor2D, l.weight, false, true), l.bias as tf.Tensor);
    const rows: tf.Tensor[] = [];
    for (let b = 0; b < 2; b++) {
      const ub = tf.reshape(tf.slice(u, [b, 0, 0], [1, 6, 12]), [6, 12]);
      const q = tf.mul(lin(ca.q, tf.slice(ub, [0, 0], [1, 12])), 0.5);
      const k = lin(ca.k, ub);
      const v = lin(ca.v, ub);
      const hs: tf.Tensor[] = [];
      for (let h = 0; h < 3; h++) {
        const p = tf.softmax(tf.matMul(tf.slice(q, [0, h * 4], [1, 4]), tf.slice(k, [0, h * 4], [6, 4]), false, true));
        hs.push(tf.matMul(p, tf.slice(v, [0, h * 4], [6, 4])));
      }
      rows.push(lin(ca.proj, tf.concat(hs, 1)));
    }
    assert.ok(maxAbsDiff(out, tf.stack(rows)) < 1e-5);
    ca.dispose();
  }
});

test('forward/backward of a transformer block leaks no tensors over 50 iterations (cpu and wasm)', async () => {
  for (const backend of BACKENDS) {
    await use(backend);
    const block = new Block(16, 4, new Rng(3));
    const vars = block.trainableVariables();
    const x = tf.randomNormal([2, 7, 16]) as tf.Tensor3D;
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(block.forward(x))) as tf.Scalar, vars);
      tf.tidy(() => vars.forEach((v) => v.assign(tf.sub(v, tf.mul(grads[v.name] as tf.Tensor, 1e-3)))));
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const baseline = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) step();
    assert.equal(tf.memory().numTensors, baseline, `${backend}: tensor count grew`);
    block.dispose();
    x.dispose();
  }
});

test('DropPath is identity in eval and at rate 0, zeroes whole samples in training, and is seeded', async () => {
  await use('cpu');
  const x = tf.ones([64, 3, 2]);
  const dp = new DropPath(0.5, new Rng(8));
  const y = dp.forward(x).dataSync();
  const perSample = Array.from({ length: 64 }, (_, i) => y[i * 6] as number);
  assert.ok(perSample.every((v) => v === 0 || v === 2));
  assert.ok(perSample.some((v) => v === 0) && perSample.some((v) => v === 2));
  for (let i = 0; i < 64; i++) for (let j = 1; j < 6; j++) assert.equal(y[i * 6 + j], perSample[i]);
  assert.deepEqual(Array.from(new DropPath(0.5, new Rng(8)).forward(x).dataSync()), Array.from(y));
  dp.eval();
  assert.deepEqual(Array.from(dp.forward(x).dataSync()), new Array(384).fill(1));
  assert.throws(() => new DropPath(1.2, new Rng(0)), { name: 'ConfigError' });
  assert.ok(gelu);
});
