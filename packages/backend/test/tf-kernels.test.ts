import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import '@selfpatch/backend/testing';
import { initBackend, uninstallTensorflowKernels, TF_FUSED_KERNEL_NAMES } from '../src/index.node.js';
import { ADAMW_KERNEL, EMA_KERNEL, SCALED_SOFTMAX_KERNEL, SOFTMAX_GRAD_KERNEL, GELU_GRAD_KERNEL, GELU_KERNEL, LAYER_NORM_GRAD_KERNEL, LAYER_NORM_KERNEL } from '@selfpatch/nn/kernels';
import { Rng } from '@selfpatch/nn';

// The fused native kernels (native/tf-kernels.c) on the tensorflow backend: the same values as the
// wasm SIMD kernels bit for bit (one C source), the stock composite on cpu within float rounding,
// clear errors, no leaks. Needs `npm run setup:tfjs-node`; in CI a missing binding fails.
let installed = true;
try {
  createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
} catch {
  installed = false;
}
const run = installed || process.env.CI === 'true';

function rand(rng: Rng, shape: number[], scale = 3): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => (rng.uniform() * 2 - 1) * scale), shape);
}

/** Rows of probabilities made in JS, so every backend gets the same bits. */
function probs(rng: Rng, rows: number, cols: number): tf.Tensor {
  const v = Float32Array.from({ length: rows * cols }, () => rng.uniform() + 1e-3);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += v[r * cols + j] as number;
    for (let j = 0; j < cols; j++) v[r * cols + j] = (v[r * cols + j] as number) / sum;
  }
  return tf.tensor2d(v, [rows, cols]);
}

type Case = { name: string; kernel: string; inputs: (rng: Rng) => Record<string, tf.Tensor>; attrs: tf.NamedAttrMap };

// Lengths off every block size (4, 16, 32 floats) so the padded tails run; the 'large' ones are
// big enough for the native kernels to split them over threads (native/parallel.h) when the
// machine has 2 or more cores (or TF_NUM_INTRAOP_THREADS says so).
const CASES: Case[] = [
  { name: 'gelu (large)', kernel: GELU_KERNEL, inputs: (r) => ({ x: rand(r, [613, 257]) }), attrs: {} },
  { name: 'gelu grad (large)', kernel: GELU_GRAD_KERNEL, inputs: (r) => ({ dy: rand(r, [613, 257]), x: rand(r, [613, 257]) }), attrs: {} },
  { name: 'layer norm (large)', kernel: LAYER_NORM_KERNEL, inputs: (r) => ({ x: rand(r, [1001, 193]), weight: rand(r, [193], 1), bias: rand(r, [193], 1) }), attrs: { eps: 1e-6 } },
  { name: 'scaled softmax (large)', kernel: SCALED_SOFTMAX_KERNEL, inputs: (r) => ({ x: rand(r, [1001, 197]) }), attrs: { scale: 0.125 } },
  {
    name: 'adamw (large)',
    kernel: ADAMW_KERNEL,
    inputs: (r) => ({ param: rand(r, [200003]), grad: rand(r, [200003]), expAvg: rand(r, [200003]), expAvgSq: tf.abs(rand(r, [200003])) }),
    attrs: { decay: 0.99996, beta1: 0.9, beta2: 0.999, eps: 1e-8, bc2Sqrt: 0.0447, stepSize: 5e-4 },
  },
  { name: 'gelu', kernel: GELU_KERNEL, inputs: (r) => ({ x: rand(r, [37, 197]) }), attrs: {} },
  { name: 'gelu grad', kernel: GELU_GRAD_KERNEL, inputs: (r) => ({ dy: rand(r, [3, 5, 7]), x: rand(r, [3, 5, 7]) }), attrs: {} },
  { name: 'layer norm', kernel: LAYER_NORM_KERNEL, inputs: (r) => ({ x: rand(r, [2, 9, 193]), weight: rand(r, [193], 1), bias: rand(r, [193], 1) }), attrs: { eps: 1e-6 } },
  { name: 'layer norm grad', kernel: LAYER_NORM_GRAD_KERNEL, inputs: (r) => ({ dy: rand(r, [11, 30]), x: rand(r, [11, 30]), weight: rand(r, [30], 1) }), attrs: { eps: 1e-5 } },
  {
    name: 'adamw',
    kernel: ADAMW_KERNEL,
    inputs: (r) => ({ param: rand(r, [1027]), grad: rand(r, [1027]), expAvg: rand(r, [1027]), expAvgSq: tf.abs(rand(r, [1027])) }),
    attrs: { decay: 0.99996, beta1: 0.9, beta2: 0.999, eps: 1e-8, bc2Sqrt: 0.0447, stepSize: 5e-4 },
  },
  { name: 'scaled softmax', kernel: SCALED_SOFTMAX_KERNEL, inputs: (r) => ({ x: rand(r, [3, 7, 197]) }), attrs: { scale: 0.125 } },
  { name: 'softmax grad', kernel: SOFTMAX_GRAD_KERNEL, inputs: (r) => ({ p: probs(r, 5, 23), dp: rand(r, [5, 23]) }), attrs: { scale: 0.125 } },
  { name: 'ema', kernel: EMA_KERNEL, inputs: (r) => ({ teacher: rand(r, [6, 7]), student: rand(r, [6, 7]) }), attrs: { momentum: 0.9964 } },
];

function runCase(c: Case): Float32Array[] {
  return tf.tidy(() => {
    const out = tf.engine().runKernel(c.kernel, c.inputs(new Rng(7)), c.attrs) as tf.Tensor | tf.Tensor[];
    return (Array.isArray(out) ? out : [out]).map((t) => t.dataSync() as Float32Array);
  });
}

test('tensorflow: the fused native kernels are loaded and named in the backend reason', { skip: !run && 'tfjs-node is not installed (npm run setup:tfjs-node)' }, async () => {
  const info = await initBackend('tensorflow');
  assert.match(info.reason, /fused native kernels/, info.reason);
  for (const name of TF_FUSED_KERNEL_NAMES) assert.ok(tf.getKernel(name, 'tensorflow'), name);
});

for (const c of CASES) {
  test(`tensorflow: fused ${c.name} equals the wasm kernel bit for bit and the cpu composite to rounding`, { skip: !run && 'tfjs-node is not installed' }, async () => {
    // The SIMD128 build: the relaxed one (default from Node 22) fuses multiply-adds, the addon does not.
    await initBackend('wasm', { simd: 'simd' });
    const wasm = runCase(c);
    await initBackend('tensorflow');
    const native = runCase(c);
    assert.equal(native.length, wasm.length);
    native.forEach((v, i) => assert.deepEqual(v, wasm[i], `${c.name} output ${i}`));
    // The kernel-free formulation (what @selfpatch/nn runs without fused kernels), on cpu.
    await initBackend('cpu');
    const ref = tf.tidy(() => composite(c).map((t) => t.dataSync() as Float32Array));
    native.forEach((v, i) => {
      const r = ref[i] as Float32Array;
      let worst = 0;
      for (let j = 0; j < v.length; j++) worst = Math.max(worst, Math.abs((v[j] as number) - (r[j] as number)) / Math.max(1, Math.abs(r[j] as number)));
      assert.ok(worst < 2e-5, `${c.name} output ${i}: relative error ${worst}`);
    });
  });
}

/** The stock-op formulation of each case, as @selfpatch/nn's composites compute it. */
function composite(c: Case): tf.Tensor[] {
  const t = c.inputs(new Rng(7));
  const a = c.attrs as Record<string, number>;
  const gelu = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
  if (c.kernel === GELU_KERNEL) return [gelu(t.x as tf.Tensor)];
  if (c.kernel === GELU_GRAD_KERNEL) return [tf.grad((x: tf.Tensor) => gelu(x))(t.x as tf.Tensor, t.dy as tf.Tensor)];
  const ln = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, a.eps as number))), w), b);
  };
  if (c.kernel === LAYER_NORM_KERNEL) return [ln(t.x as tf.Tensor, t.weight as tf.Tensor, t.bias as tf.Tensor)];
  if (c.kernel === LAYER_NORM_GRAD_KERNEL) {
    const b = tf.zerosLike(t.weight as tf.Tensor);
    return tf.grads((x: tf.Tensor, w: tf.Tensor, bb: tf.Tensor) => ln(x, w, bb))([t.x as tf.Tensor, t.weight as tf.Tensor, b], t.dy as tf.Tensor);
  }
  if (c.kernel === ADAMW_KERNEL) {
    const m = tf.add(tf.mul(t.expAvg as tf.Tensor, a.beta1 as number), tf.mul(t.grad as tf.Tensor, 1 - (a.beta1 as number)));
    const v = tf.add(tf.mul(t.expAvgSq as tf.Tensor, a.beta2 as number), tf.mul(tf.square(t.grad as tf.Tensor), 1 - (a.beta2 as number)));
    const denom = tf.add(tf.div(tf.sqrt(v), a.bc2Sqrt as number), a.eps as number);
    const p = tf.sub(tf.mul(t.param as tf.Tensor, a.decay as number), tf.mul(tf.div(m, denom), a.stepSize as number));
    return [p, m, v];
  }
  if (c.kernel === SCALED_SOFTMAX_KERNEL) return [tf.softmax(tf.mul(t.x as tf.Tensor, a.scale as number))];
  if (c.kernel === SOFTMAX_GRAD_KERNEL) {
    const p = t.p as tf.Tensor;
    const dp = t.dp as tf.Tensor;
    return [tf.mul(tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true))), a.scale as number)];
  }
  return [tf.add(tf.mul(t.teacher as tf.Tensor, a.momentum as number), tf.mul(t.student as tf.Tensor, 1 - (a.momentum as number)))];
}

test('tensorflow: a shape mismatch in a fused op is an error naming the op, and repeated calls leak nothing', { skip: !run && 'tfjs-node is not installed' }, async () => {
  await initBackend('tensorflow');
  const x = tf.ones([4, 8]);
  const w = tf.ones([7]);
  assert.throws(() => tf.engine().runKernel(LAYER_NORM_KERNEL, { x, weight: w, bias: w }, { eps: 1e-6 }), /SelfPatchLayerNorm: weight and bias must be vectors/);
  assert.throws(() => tf.engine().runKernel(GELU_GRAD_KERNEL, { dy: x, x: w }, {}), /SelfPatchGeluGrad: dy and x differ in shape/);
  const counts: number[] = [];
  for (let i = 0; i < 3; i++) {
    for (const c of CASES) runCase(c);
    counts.push(tf.memory().numTensors);
  }
  assert.equal(counts[2], counts[1], `tensors per round: ${counts.join(', ')}`);
  tf.dispose([x, w]);
});

test('tensorflow: SELFPATCH_TF_KERNELS=off and uninstallTensorflowKernels leave the composites', { skip: !run && 'tfjs-node is not installed' }, async () => {
  await initBackend('tensorflow');
  uninstallTensorflowKernels();
  for (const name of TF_FUSED_KERNEL_NAMES) assert.equal(tf.getKernel(name, 'tensorflow'), undefined, name);
  process.env.SELFPATCH_TF_KERNELS = 'off';
  try {
    const info = await initBackend('tensorflow');
    assert.match(info.reason, /fused kernels off/);
    assert.equal(tf.getKernel(GELU_KERNEL, 'tensorflow'), undefined);
  } finally {
    delete process.env.SELFPATCH_TF_KERNELS;
  }
  const info = await initBackend('tensorflow');
  assert.match(info.reason, /fused native kernels/);
});
