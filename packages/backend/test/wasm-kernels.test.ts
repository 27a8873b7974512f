import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { maxAbsDiff } from '@selfpatch/nn/testing';
import { use } from '@selfpatch/backend/testing';
import { residentBytes } from '../src/resident-weights.js';
import { Attention, LayerNorm, Linear, Mlp, Rng, fusedAdamW, fusedEma, gelu, inferenceBlock, inferenceBlockAvailable, layerNorm, linear, type InferenceBlockWeights } from '@selfpatch/nn';

/** Names of the kernels `f` ran. */
const ran = async (f: () => tf.Tensor): Promise<string[]> => (await tf.profile(() => void tf.tidy(() => f().dataSync()))).kernels.map((k) => k.name);

/** Random shapes/boxes: the zero-copy wasm Slice/Unpack/SplitV must equal the cpu kernels exactly. */
test('zero-copy Slice, Unpack and SplitV on wasm equal the cpu backend on 200 random cases', async () => {
  // The replacements are the registered ones (the stock kernels would pass the comparison too).
  assert.equal(tf.getKernel('Slice', 'wasm')?.kernelFunc.name, 'sliceKernel');
  assert.equal(tf.getKernel('Unpack', 'wasm')?.kernelFunc.name, 'unpackKernel');
  assert.equal(tf.getKernel('SplitV', 'wasm')?.kernelFunc.name, 'splitVKernel');
  const rng = new Rng(5);
  for (let iter = 0; iter < 200; iter++) {
    const rank = 1 + rng.int(5);
    const shape = Array.from({ length: rank }, () => 1 + rng.int(5));
    const n = shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: n }, () => rng.normal());
    const begin = shape.map((d) => rng.int(d));
    const size = shape.map((d, i) => 1 + rng.int(d - (begin[i] as number)));
    const axis = rng.int(rank);
    const splits = shape[axis] as number;
    const run = async (backend: string) => {
      await use(backend);
      return tf.tidy(() => {
        const x = tf.tensor(data, shape);
        const s = tf.slice(x, begin, size).dataSync().slice();
        const u = tf.unstack(x, axis).map((t) => t.dataSync().slice());
        const first = 1 + rng.int(splits);
        const parts = first < splits ? [first, splits - first] : [splits];
        const sp = tf.split(x, parts, axis).map((t) => t.dataSync().slice());
        return { s, u, sp };
      });
    };
    const state = rng.getState();
    const cpu = await run('cpu');
    rng.setState(state);
    const wasm = await run('wasm');
    assert.deepEqual(Array.from(wasm.s), Array.from(cpu.s), `slice ${JSON.stringify({ shape, begin, size })}`);
    wasm.u.forEach((u, i) => assert.deepEqual(Array.from(u), Array.from(cpu.u[i] as Float32Array)));
    wasm.sp.forEach((u, i) => assert.deepEqual(Array.from(u), Array.from(cpu.sp[i] as Float32Array)));
  }
});

test('gather gradient (UnsortedSegmentSum) works on wasm and matches cpu', async () => {
  const results: Float32Array[] = [];
  for (const backend of ['cpu', 'wasm']) {
    await use(backend);
    const g = tf.tidy(() => {
      const x = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
      const idx = tf.tensor1d([2, 0, 2, 1], 'int32');
      const w = tf.tensor2d([[1, -1], [2, 0.5], [3, 1], [0.25, 4]]);
      return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, idx), w)))(x).dataSync().slice() as Float32Array;
    });
    results.push(g);
  }
  assert.deepEqual(Array.from(results[0] as Float32Array), [2, 0.5, 0.25, 4, 4, 0]);
  assert.equal(maxAbsDiff(results[0] as Float32Array, results[1] as Float32Array), 0);
});

test('the SIMD wasm Transpose equals the cpu backend, on the shapes it takes and on the ones it passes on', async () => {
  assert.equal(tf.getKernel('Transpose', 'wasm')?.kernelFunc.name, 'transposeKernel');
  const cases: Array<{ shape: number[]; perm: number[] }> = [
    { shape: [1024, 300], perm: [1, 0] },
    { shape: [3, 512, 257], perm: [0, 2, 1] }, // batched, odd width
    { shape: [2, 3, 197, 65], perm: [0, 1, 3, 2] }, // two batch axes, tails of 1
    { shape: [35, 33], perm: [1, 0] }, // partial 32×32 tiles, tails of 3 and 1
    { shape: [8, 8], perm: [1, 0] },
    { shape: [4, 300], perm: [1, 0] }, // passed on: thin
    { shape: [4, 256, 300], perm: [1, 0, 2] }, // passed on: not a matrix transpose
  ];
  const rng = new Rng(9);
  for (const { shape, perm } of cases) {
    const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
    const run = async (backend: string) => {
      await use(backend);
      return tf.tidy(() => tf.transpose(tf.tensor(data, shape), perm).dataSync().slice());
    };
    const cpu = await run('cpu');
    const wasm = await run('wasm');
    assert.equal(maxAbsDiff(wasm, cpu), 0, JSON.stringify({ shape, perm }));
  }
  await use('wasm');
  const ints = tf.tidy(() => tf.transpose(tf.tensor2d([[1, 2, 3]], [1, 3], 'int32')).dataSync().slice());
  assert.deepEqual(Array.from(ints), [1, 2, 3]);
  // Gradients go through the same kernel.
  const g = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.transpose(x), tf.reshape(tf.range(0, 512 * 280), [280, 512]))))(tf.ones([512, 280])).dataSync().slice());
  assert.equal(g[1], 512);
});

test('fused SIMD GELU on wasm equals the exact erf GELU on cpu, values and gradients, odd sizes and tails', async () => {
  assert.equal(tf.getKernel('SelfPatchGelu', 'wasm')?.kernelName, 'SelfPatchGelu');
  const rng = new Rng(11);
  // Odd length (padding path), the float32 tails, and both signs around 0.
  const data = Float32Array.from({ length: 4099 }, (_, i) => (i < 8 ? [0, -0, 1e-8, -1e-8, 40, -40, 6, -6][i] as number : rng.normal() * 3));
  const w = Float32Array.from({ length: data.length }, () => rng.normal());
  const run = async (backend: string) => {
    await use(backend);
    return tf.tidy(() => {
      const x = tf.tensor1d(data);
      const f = (v: tf.Tensor) => tf.sum(tf.mul(gelu(v), tf.tensor1d(w)));
      return { y: gelu(x).dataSync().slice(), g: tf.grad(f)(x).dataSync().slice() };
    });
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  let ey = 0;
  let eg = 0;
  for (let i = 0; i < data.length; i++) {
    const scale = Math.max(1, Math.abs(data[i] as number));
    ey = Math.max(ey, Math.abs((wasm.y[i] as number) - (cpu.y[i] as number)) / scale);
    eg = Math.max(eg, Math.abs((wasm.g[i] as number) - (cpu.g[i] as number)) / Math.max(1, Math.abs(w[i] as number)));
  }
  assert.ok(ey <= 1e-6, `GELU values differ by ${ey}`);
  assert.ok(eg <= 1e-6, `GELU gradients differ by ${eg}`);
  assert.ok(Math.abs(wasm.y[5] as number) < 1e-30, 'GELU(-40) underflows to ~0');
  assert.equal(wasm.y[4], 40);
});

test('Identity and same-dtype Cast share the buffer on wasm; other casts and gradients still right', async () => {
  await use('wasm');
  assert.equal(tf.getKernel('Identity', 'wasm')?.kernelFunc.name, 'identityKernel');
  assert.equal(tf.getKernel('Cast', 'wasm')?.kernelFunc.name, 'castKernel');
  const before = tf.memory();
  const x = tf.tensor2d([[1.5, -2.25], [3.75, 4]]);
  const buffers = (tf.memory() as { numDataBuffers: number }).numDataBuffers;
  const c = tf.clone(x);
  const f = tf.cast(x, 'float32');
  // Three tensors, one buffer.
  assert.equal(tf.memory().numTensors, before.numTensors + 3);
  assert.equal((tf.memory() as { numDataBuffers: number }).numDataBuffers, buffers);
  x.dispose();
  assert.deepEqual(Array.from(c.dataSync()), [1.5, -2.25, 3.75, 4]);
  c.dispose();
  assert.deepEqual(Array.from(f.dataSync()), [1.5, -2.25, 3.75, 4]);
  const i = tf.cast(f, 'int32');
  assert.equal(i.dtype, 'int32');
  assert.deepEqual(Array.from(i.dataSync()), [1, -2, 3, 4]);
  const b = tf.tidy(() => tf.cast(tf.tensor1d([0, 2, -1]), 'bool'));
  assert.deepEqual(Array.from(b.dataSync()), [0, 1, 1]);
  // Saved inputs (clones) feed gradients: d/dx sum(x·x·w) = 2·x·w.
  const g = tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.mul(t, t), tf.tensor1d([1, 2, 3]))))(tf.tensor1d([1, -1, 0.5])));
  assert.deepEqual(Array.from(g.dataSync()), [2, -4, 3]);
  tf.dispose([f, i, b, g]);
  assert.deepEqual(tf.memory().numTensors, before.numTensors);
});

test('SIMD Exp on wasm is within 4 float32 ulps of exp over the whole range, with inf, 0, subnormals and NaN', async () => {
  assert.equal(tf.getKernel('Exp', 'wasm')?.kernelFunc.name, 'simdExpKernel');
  const rng = new Rng(3);
  const special = [0, -0, 1, -1, 88.5, 88.72, 88.73, 89, 1000, -87.3, -90, -100, -103.9, -104, -150, -1000, Infinity, -Infinity, NaN];
  const data = Float32Array.from([...special, ...Array.from({ length: 5001 }, () => (rng.uniform() * 2 - 1) * 100)]);
  await use('wasm');
  const y = tf.tidy(() => tf.exp(tf.tensor1d(data)).dataSync().slice());
  for (let i = 0; i < data.length; i++) {
    const want = Math.fround(Math.exp(data[i] as number));
    const got = y[i] as number;
    if (Number.isNaN(want)) {
      assert.ok(Number.isNaN(got), `exp(${data[i]}) = ${got}, want NaN`);
    } else if (!Number.isFinite(want) || want === 0) {
      assert.equal(got, want, `exp(${data[i]})`);
    } else {
      // Relative error in float32 ulps; subnormals (below 2^-126) are compared absolutely.
      const ulp = Math.max(Math.abs(want), 2 ** -126) * 2 ** -23;
      assert.ok(Math.abs(got - want) <= 4 * ulp, `exp(${data[i]}) = ${got}, want ${want}`);
    }
  }
  // Longer than one chunk (2^20 elements per kernel call): every element, across the boundary.
  const big = Float32Array.from({ length: (1 << 20) + 37 }, (_, i) => ((i % 2000) - 1000) / 50);
  const yb = tf.tidy(() => tf.exp(tf.tensor1d(big)).dataSync().slice());
  for (let i = 0; i < big.length; i++) {
    const want = Math.fround(Math.exp(big[i] as number));
    assert.ok(Math.abs((yb[i] as number) - want) <= 4 * want * 2 ** -23, `exp at ${i}`);
  }
});

test('fused LayerNorm on wasm equals the composite on cpu: values, dx, dγ, dβ; odd widths', async () => {
  assert.equal(tf.getKernel('SelfPatchLayerNorm', 'wasm')?.kernelName, 'SelfPatchLayerNorm');
  const rng = new Rng(8);
  for (const shape of [[3, 5, 192], [7, 13], [2, 1, 6], [4, 1]] as number[][]) {
    const c = shape[shape.length - 1] as number;
    const n = shape.reduce((a, b) => a * b, 1);
    // An offset and scale per row, as residual streams have.
    const x = Float32Array.from({ length: n }, (_, i) => rng.normal() * 3 + (Math.floor(i / c) % 5) * 10);
    const w = Float32Array.from({ length: c }, () => 1 + rng.normal() * 0.3);
    const b = Float32Array.from({ length: c }, () => rng.normal() * 0.3);
    const r = Float32Array.from({ length: n }, () => rng.normal());
    const run = async (backend: string) => {
      await use(backend);
      return tf.tidy(() => {
        const f = (xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor) => tf.sum(tf.mul(layerNorm(xi, wi, bi, 1e-6), tf.tensor(r, shape)));
        const xs = [tf.tensor(x, shape), tf.tensor1d(w), tf.tensor1d(b)];
        const y = layerNorm(xs[0] as tf.Tensor, xs[1] as tf.Tensor, xs[2] as tf.Tensor, 1e-6).dataSync().slice();
        const g = tf.grads(f)(xs).map((t) => t.dataSync().slice());
        return { y, g };
      });
    };
    const cpu = await run('cpu');
    const wasm = await run('wasm');
    const err = (a: ArrayLike<number>, e: ArrayLike<number>) => maxAbsDiff(a as Float32Array, e as Float32Array);
    assert.ok(err(wasm.y, cpu.y) < 2e-5, `y ${JSON.stringify(shape)}: ${err(wasm.y, cpu.y)}`);
    ['dx', 'dw', 'db'].forEach((name, i) => {
      const d = err(wasm.g[i] as Float32Array, cpu.g[i] as Float32Array);
      assert.ok(d < 2e-4, `${name} ${JSON.stringify(shape)}: ${d}`);
    });
  }
});

test('fused AdamW on wasm equals the composite update (same operation order) on wasm and cpu', async () => {
  const rng = new Rng(21);
  const n = 1037; // not a multiple of 4: the padded tail
  const arr = (scale: number) => Float32Array.from({ length: n }, () => rng.normal() * scale);
  const [p, g, m] = [arr(1), arr(0.1), arr(0.01)];
  const v = Float32Array.from(arr(0.001), (x) => x * x);
  const s = { decay: 1 - 5e-4 * 0.04, beta1: 0.9, beta2: 0.999, eps: 1e-8, bc2Sqrt: Math.sqrt(1 - 0.999 ** 3), stepSize: 5e-4 / (1 - 0.9 ** 3) };
  const composite = () =>
    tf.tidy(() => {
      const p1 = tf.mul(tf.tensor1d(p), s.decay);
      const m2 = tf.add(tf.mul(tf.tensor1d(m), s.beta1), tf.mul(tf.tensor1d(g), 1 - s.beta1));
      const v2 = tf.add(tf.mul(tf.tensor1d(v), s.beta2), tf.mul(tf.mul(tf.tensor1d(g), tf.tensor1d(g)), 1 - s.beta2));
      const denom = tf.add(tf.div(tf.sqrt(v2), s.bc2Sqrt), s.eps);
      return [tf.sub(p1, tf.mul(tf.div(m2, denom), s.stepSize)), m2, v2].map((t) => t.dataSync().slice() as Float32Array);
    });
  await use('cpu');
  assert.equal(fusedAdamW(tf.tensor1d(p), tf.tensor1d(g), tf.tensor1d(m), tf.tensor1d(v), s), null, 'no fused kernel on cpu');
  const cpu = composite();
  await use('wasm');
  const wasmComposite = composite();
  const fused = tf.tidy(() => {
    const out = fusedAdamW(tf.tensor1d(p), tf.tensor1d(g), tf.tensor1d(m), tf.tensor1d(v), s);
    assert.ok(out, 'fused kernel on wasm');
    return out.map((t) => t.dataSync().slice() as Float32Array);
  });
  ['param', 'exp_avg', 'exp_avg_sq'].forEach((name, i) => {
    assert.equal(maxAbsDiff(fused[i] as Float32Array, wasmComposite[i] as Float32Array), 0, `${name} vs wasm composite`);
    const scale = Math.max(...Array.from(cpu[i] as Float32Array, Math.abs));
    assert.ok(maxAbsDiff(fused[i] as Float32Array, cpu[i] as Float32Array) <= 1e-6 * scale, `${name} vs cpu`);
  });
  // The parameter moved by about lr per element (Adam's normalised step).
  assert.ok(maxAbsDiff(fused[0] as Float32Array, Float32Array.from(p, (x) => x * s.decay)) > 1e-4);
});

test('wasm GatherV2 and Tile replacements equal the cpu backend on random shapes; bad indices throw', async () => {
  assert.equal(tf.getKernel('GatherV2', 'wasm')?.kernelFunc.name, 'gatherKernel');
  assert.equal(tf.getKernel('Tile', 'wasm')?.kernelFunc.name, 'tileKernel');
  const rng = new Rng(17);
  for (let iter = 0; iter < 100; iter++) {
    const rank = 1 + rng.int(4);
    const shape = Array.from({ length: rank }, () => 1 + rng.int(4));
    const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
    const reps = shape.map(() => 1 + rng.int(3));
    const axis = rng.int(rank);
    const idxShape = rng.int(2) ? [1 + rng.int(5)] : [1 + rng.int(3), 1 + rng.int(3)];
    const idx = Int32Array.from({ length: idxShape.reduce((a, b) => a * b, 1) }, () => rng.int(shape[axis] as number));
    const run = async (backend: string) => {
      await use(backend);
      return tf.tidy(() => {
        const x = tf.tensor(data, shape);
        return {
          t: tf.tile(x, reps).dataSync().slice(),
          g: tf.gather(x, tf.tensor(idx, idxShape, 'int32'), axis).dataSync().slice(),
          gi: tf.gather(tf.cast(x, 'int32'), tf.tensor(idx, idxShape, 'int32'), axis).dataSync().slice(),
        };
      });
    };
    const cpu = await run('cpu');
    const wasm = await run('wasm');
    const ctx = JSON.stringify({ shape, reps, axis, idxShape });
    assert.deepEqual(Array.from(wasm.t), Array.from(cpu.t), `tile ${ctx}`);
    assert.deepEqual(Array.from(wasm.g), Array.from(cpu.g), `gather ${ctx}`);
    assert.deepEqual(Array.from(wasm.gi), Array.from(cpu.gi), `gather int32 ${ctx}`);
  }
  await use('wasm');
  assert.throws(() => tf.tidy(() => tf.gather(tf.ones([3, 2]), tf.tensor1d([0, 3], 'int32'))), /index value 3 is not in \[0, 2\]/);
});

test('wasm Sum over leading axes (SIMD column sum) equals the cpu backend; other sums pass on', async () => {
  assert.equal(tf.getKernel('Sum', 'wasm')?.kernelFunc.name, 'sumKernel');
  const rng = new Rng(23);
  const cases: Array<{ shape: number[]; axis: number | number[]; keepDims: boolean }> = [
    { shape: [784, 7], axis: 0, keepDims: false }, // taken, tail of 3
    { shape: [4, 13, 9], axis: [0, 1], keepDims: true }, // taken, two axes
    { shape: [5, 3, 2], axis: [1, 0], keepDims: false }, // taken, unsorted axes
    { shape: [6, 5], axis: 1, keepDims: false }, // passed on: last axis
    { shape: [6, 5], axis: [0, 1], keepDims: false }, // passed on: everything
    { shape: [0, 4], axis: 0, keepDims: false }, // empty rows
  ];
  for (const { shape, axis, keepDims } of cases) {
    const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
    const run = async (backend: string) => {
      await use(backend);
      return tf.tidy(() => {
        const y = tf.sum(tf.tensor(data, shape), axis, keepDims);
        return { shape: y.shape, v: y.dataSync().slice() };
      });
    };
    const cpu = await run('cpu');
    const wasm = await run('wasm');
    const ctx = JSON.stringify({ shape, axis, keepDims });
    assert.deepEqual(wasm.shape, cpu.shape, ctx);
    assert.ok(maxAbsDiff(wasm.v as Float32Array, cpu.v as Float32Array) < 1e-4, ctx);
  }
  await use('wasm');
  const ints = tf.tidy(() => tf.sum(tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32'), 0).dataSync().slice());
  assert.deepEqual(Array.from(ints), [4, 6]);
});

test('fused EMA on wasm equals the composite t·m + s·(1 − m) exactly; none on cpu', async () => {
  const rng = new Rng(31);
  const t = Float32Array.from({ length: 1031 }, () => rng.normal());
  const st = Float32Array.from({ length: 1031 }, () => rng.normal());
  await use('cpu');
  const none = tf.tidy(() => fusedEma(tf.tensor1d(t), tf.tensor1d(st), 0.996) ?? tf.scalar(-1));
  assert.equal(none.dataSync()[0], -1, 'no fused kernel on cpu');
  none.dispose();
  await use('wasm');
  const [fused, composite] = tf.tidy(() => {
    const a = tf.tensor1d(t);
    const b = tf.tensor1d(st);
    const f = fusedEma(a, b, 0.996);
    assert.ok(f, 'fused kernel on wasm');
    return [f.dataSync().slice(), tf.add(tf.mul(a, 0.996), tf.mul(b, 1 - 0.996)).dataSync().slice()];
  });
  assert.equal(maxAbsDiff(fused as Float32Array, composite as Float32Array), 0);
  assert.ok(maxAbsDiff(fused as Float32Array, t) > 1e-4, 'the teacher moved');
});

test('inference Linear on wasm equals x·Wᵀ + b on cpu: ragged rows and panels, with and without bias, rank 3', async () => {
  assert.equal(tf.getKernel('SelfPatchInferenceLinear', 'wasm')?.kernelName, 'SelfPatchInferenceLinear');
  const rng = new Rng(5);
  // Rows around the 4-row tile, output features around the 8-wide panel, odd and long k.
  const shapes: Array<[number, number, number]> = [[1, 1, 1], [3, 7, 5], [4, 8, 16], [5, 9, 3], [7, 15, 33], [197, 17, 64], [13, 384, 129], [9, 24, 1536]];
  for (const [m, k, n] of shapes) {
    const x = Float32Array.from({ length: m * k }, () => rng.normal());
    const w = Float32Array.from({ length: n * k }, () => rng.normal());
    const b = Float32Array.from({ length: n }, () => rng.normal());
    const run = async (backend: string, withBias: boolean) => {
      await use(backend);
      return tf.tidy(() => linear(tf.tensor2d(x, [m, k]), tf.tensor2d(w, [n, k]), withBias ? tf.tensor1d(b) : null).dataSync().slice());
    };
    for (const withBias of [true, false]) {
      const cpu = await run('cpu', withBias);
      await use('wasm');
      const got = tf.tidy(() => {
        const fc = new Linear(k, n, { bias: withBias, rng: new Rng(0) });
        fc.weight.assign(tf.tensor2d(w, [n, k]));
        if (fc.bias) fc.bias.assign(tf.tensor1d(b));
        fc.eval();
        // Rank 3 input through the layer, as a transformer block calls it.
        const y = fc.forward(tf.tensor3d(x, [1, m, k])).dataSync().slice();
        fc.dispose();
        return y;
      });
      const tol = 1e-5 * Math.sqrt(k) * 4;
      const err = maxAbsDiff(got, cpu);
      assert.ok(err <= tol, `[${m}x${k}]·[${n}x${k}]ᵀ bias=${withBias}: differs from cpu by ${err}`);
    }
  }
  // It is the kernel that ran, in eval mode off the tape only; the weight is packed once per value
  // and kept in the kernel module (tfjs holds no extra tensor for it).
  await use('wasm');
  const fc = new Linear(16, 24, { rng: new Rng(1) });
  const xin = tf.randomNormal([5, 16]);
  fc.eval();
  assert.ok((await ran(() => fc.forward(xin))).includes('SelfPatchInferenceLinear'), 'eval mode uses the inference kernel');
  assert.ok(!(await ran(() => tf.grad((t) => tf.sum(fc.forward(t)))(xin))).includes('SelfPatchInferenceLinear'), 'not on the gradient tape');
  fc.train();
  assert.ok(!(await ran(() => fc.forward(xin))).includes('SelfPatchInferenceLinear'), 'not in train mode');
  fc.eval();
  const kept = residentBytes();
  const before = tf.tidy(() => fc.forward(xin).dataSync().slice());
  assert.equal(residentBytes(), kept, 'the same weight value is packed once');
  const n0 = tf.memory().numTensors;
  const w2 = tf.randomNormal([24, 16]);
  fc.weight.assign(w2);
  w2.dispose();
  const after = tf.tidy(() => fc.forward(xin).dataSync().slice());
  const ref = tf.tidy(() => linear(xin, fc.weight, fc.bias).dataSync().slice());
  assert.ok(maxAbsDiff(after, ref) < 1e-5 && maxAbsDiff(after, before) > 1e-3, 'a new weight value is used, not the kept copy of the old one');
  assert.equal(tf.memory().numTensors, n0, 'no tensor is kept per weight');
  fc.dispose();
  xin.dispose();
});

test('Mlp in eval mode on wasm runs fc1 and GELU as one kernel: the same bits as the product then the GELU kernel, near the cpu backend; not in training or on the tape', async () => {
  assert.equal(tf.getKernel('SelfPatchInferenceLinearGelu', 'wasm')?.kernelName, 'SelfPatchInferenceLinearGelu');
  // Rows around the 4-row tile, hidden widths around the 8-wide panel.
  for (const [m, c, hidden] of [[1, 5, 3], [6, 16, 20], [197, 48, 192], [13, 9, 64]] as Array<[number, number, number]>) {
    const rng = new Rng(m + hidden);
    const x = Float32Array.from({ length: m * c }, () => rng.normal());
    const build = () => {
      const mlp = new Mlp(c, { hiddenFeatures: hidden, rng: new Rng(7) });
      mlp.eval();
      return mlp;
    };
    await use('cpu');
    const cpu = tf.tidy(() => {
      const mlp = build();
      const y = mlp.forward(tf.tensor3d(x, [1, m, c])).dataSync().slice();
      mlp.dispose();
      return y;
    });
    await use('wasm');
    const mlp = build();
    const xin = tf.tensor3d(x, [1, m, c]);
    const kernels = await ran(() => mlp.forward(xin));
    assert.ok(kernels.includes('SelfPatchInferenceLinearGelu') && !kernels.includes('SelfPatchGelu'), `[${m}, ${c}] → ${hidden}: one fused kernel, no separate GELU`);
    const fused = tf.tidy(() => mlp.forward(xin).dataSync().slice());
    const apart = tf.tidy(() => mlp.fc2.forward(gelu(mlp.fc1.forward(xin))).dataSync().slice());
    assert.deepEqual(Array.from(fused), Array.from(apart), `[${m}, ${c}] → ${hidden}: the same values as product then GELU`);
    const err = maxAbsDiff(fused, cpu);
    assert.ok(err < 1e-4, `[${m}, ${c}] → ${hidden}: differs from cpu by ${err}`);
    mlp.train();
    assert.ok(!(await ran(() => mlp.forward(xin))).includes('SelfPatchInferenceLinearGelu'), 'not in train mode');
    mlp.eval();
    assert.ok(!(await ran(() => tf.grad((t) => tf.sum(mlp.forward(t as tf.Tensor3D)))(xin))).includes('SelfPatchInferenceLinearGelu'), 'not on the gradient tape');
    mlp.dispose();
    xin.dispose();
  }
});

/** The layers of one pre-norm ViT block, in eval mode (random init from `seed`). */
function blockLayers(c: number, heads: number, hidden: number, seed: number, bias: boolean) {
  const rng = new Rng(seed);
  const norm1 = new LayerNorm(c, 1e-6);
  const attn = new Attention(c, heads, { qkvBias: bias, rng });
  const norm2 = new LayerNorm(c, 1e-5);
  const mlp = new Mlp(c, { hiddenFeatures: hidden, rng });
  // LayerNorm affine parameters off their init, so a swapped weight and bias would show.
  for (const n of [norm1, norm2]) {
    n.weight.assign(tf.add(1, tf.mul(0.1, tf.randomNormal([c], 0, 1, 'float32', seed))));
    n.bias.assign(tf.mul(0.1, tf.randomNormal([c], 0, 1, 'float32', seed + 1)));
  }
  for (const m of [norm1, attn, norm2, mlp]) m.eval();
  const weights: InferenceBlockWeights = { norm1, qkv: attn.qkv, proj: attn.proj, norm2, fc1: mlp.fc1, fc2: mlp.fc2 };
  const apart = (x: tf.Tensor3D): tf.Tensor => {
    const y = tf.add(x, attn.forward(norm1.forward(x) as tf.Tensor3D).out);
    return tf.add(y, mlp.forward(norm2.forward(y)));
  };
  const dispose = () => [norm1, attn, norm2, mlp].forEach((m) => m.dispose());
  return { weights, settings: { heads, scale: attn.scale, eps1: norm1.eps, eps2: norm2.eps }, apart, dispose };
}

test('a ViT block in eval mode as one wasm kernel (SelfPatchInferenceBlock): the same bits as its ops one by one, near cpu, leak-free; bad weights are a ShapeError', async () => {
  assert.equal(tf.getKernel('SelfPatchInferenceBlock', 'wasm')?.kernelName, 'SelfPatchInferenceBlock');
  // [batch, tokens, dim, heads, hidden, biases]: ragged token counts and widths around the 4-row
  // tile and 8-wide panels, no Linear biases, ViT-S/16's block at 224 (197 tokens).
  const cases: Array<[number, number, number, number, number, boolean]> = [[2, 37, 48, 3, 192, true], [3, 5, 12, 2, 20, false], [1, 197, 384, 6, 1536, true]];
  for (const [b, n, c, heads, hidden, bias] of cases) {
    const label = `[${b},${n},${c}] ${heads} heads, hidden ${hidden}${bias ? '' : ', no biases'}`;
    const rng = new Rng(b * 1000 + n);
    const x = Float32Array.from({ length: b * n * c }, () => rng.normal());
    await use('cpu');
    const cpu = tf.tidy(() => {
      const l = blockLayers(c, heads, hidden, 11, bias);
      const y = l.apart(tf.tensor3d(x, [b, n, c])).dataSync().slice();
      l.dispose();
      return y;
    });
    await use('wasm');
    const l = blockLayers(c, heads, hidden, 11, bias);
    const xin = tf.tensor3d(x, [b, n, c]);
    assert.ok(inferenceBlockAvailable(xin));
    const kernels = await ran(() => inferenceBlock(xin, l.weights, l.settings));
    assert.deepEqual(kernels, ['SelfPatchInferenceBlock'], `${label}: one kernel`);
    const fused = tf.tidy(() => inferenceBlock(xin, l.weights, l.settings).dataSync().slice());
    const apart = tf.tidy(() => l.apart(xin).dataSync().slice());
    assert.deepEqual(Array.from(fused), Array.from(apart), `${label}: the same values as the ops one by one`);
    const err = maxAbsDiff(fused, cpu);
    assert.ok(err < 1e-4, `${label}: differs from cpu by ${err}`);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) inferenceBlock(xin, l.weights, l.settings).dispose();
    assert.equal(tf.memory().numTensors, before, `${label}: tensors leaked`);
    l.dispose();
    xin.dispose();
  }
  const l = blockLayers(16, 2, 32, 3, true);
  const xin = tf.zeros([1, 4, 16]) as tf.Tensor3D;
  assert.throws(() => inferenceBlock(xin, { ...l.weights, fc2: { weight: tf.zeros([16, 31]), bias: null } }, l.settings), { name: 'ShapeError', message: /mlp\.fc2\.weight is \[16,31\], expected \[16,32\]/ });
  assert.throws(() => inferenceBlock(xin, l.weights, { ...l.settings, heads: 3 }), { name: 'ShapeError', message: /3 heads/ });
  assert.ok(!tf.tidy(() => tf.grad((t) => { assert.equal(inferenceBlockAvailable(t as tf.Tensor3D), false, 'not on the gradient tape'); return tf.sum(t); })(xin)).isDisposed);
  l.dispose();
  xin.dispose();
});

test('inference attention from the fused qkv on wasm equals the Attention layer on cpu; the kernel runs in eval mode off the tape only', async () => {
  assert.equal(tf.getKernel('SelfPatchAttentionQkv', 'wasm')?.kernelName, 'SelfPatchAttentionQkv');
  // [batch, tokens, dim, heads]: ragged token counts, ViT-S/16 at 224 (197 tokens, 6 heads of 64).
  const cases: Array<[number, number, number, number]> = [[2, 37, 48, 3], [3, 5, 8, 2], [1, 197, 384, 6]];
  for (const [b, n, dim, heads] of cases) {
    const rng = new Rng(b * 100 + n);
    const x = Float32Array.from({ length: b * n * dim }, () => rng.normal());
    const run = async (backend: string) => {
      await use(backend);
      return tf.tidy(() => {
        const attn = new Attention(dim, heads, { rng: new Rng(3) });
        attn.eval();
        const y = attn.forward(tf.tensor3d(x, [b, n, dim])).out.dataSync().slice();
        attn.dispose();
        return y;
      });
    };
    const cpu = await run('cpu');
    const wasm = await run('wasm');
    const err = maxAbsDiff(wasm, cpu);
    assert.ok(err <= 2e-5, `[${b},${n},${dim}] ${heads} heads: differs from cpu by ${err}`);
  }
  await use('wasm');
  const attn = new Attention(32, 4, { rng: new Rng(4) });
  const xin = tf.randomNormal([2, 9, 32]) as tf.Tensor3D;
  attn.eval();
  assert.ok((await ran(() => attn.forward(xin).out)).includes('SelfPatchAttentionQkv'), 'eval mode reads the fused qkv');
  assert.ok(!(await ran(() => attn.forward(xin, true).out)).includes('SelfPatchAttentionQkv'), 'not when the probabilities are asked for');
  assert.ok(!(await ran(() => tf.grad((t) => tf.sum(attn.forward(t as tf.Tensor3D).out))(xin))).includes('SelfPatchAttentionQkv'), 'not on the gradient tape');
  attn.train();
  assert.ok(!(await ran(() => attn.forward(xin).out)).includes('SelfPatchAttentionQkv'), 'not in train mode');
  attn.dispose();
  xin.dispose();
});

test('wasm BatchMatMul and _FusedMatMul run the SIMD tile and equal the cpu backend; transposes, activations, broadcast left operands and under 64 rows stay stock', async () => {
  const { matMulSimdCalls } = await import('../src/simd-kernels.js');
  assert.equal(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc.name, 'batchMatMulKernel');
  assert.equal(tf.getKernel('_FusedMatMul', 'wasm')?.kernelFunc.name, 'fusedMatMulKernel');
  const rng = new Rng(11);
  const rand = (shape: number[]) => ({ values: Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => rng.normal()), shape });
  const data = {
    a: rand([67, 15]), b: rand([15, 33]), b8: rand([15, 8]), a3: rand([3, 70, 15]), b3: rand([3, 15, 33]), bias: rand([33]), bt: rand([33, 15]), b3big: rand([2, 15, 33]),
  };
  type Case = { name: string; ours: boolean; f: () => tf.Tensor };
  const cases = (x: Record<keyof typeof data, tf.Tensor>): Case[] => [
    { name: '2-D, ragged panel', ours: true, f: () => tf.matMul(x.a as tf.Tensor2D, x.b as tf.Tensor2D) },
    { name: '2-D, one panel exactly', ours: true, f: () => tf.matMul(x.a as tf.Tensor2D, x.b8 as tf.Tensor2D) },
    { name: 'batched, shared right operand', ours: true, f: () => tf.matMul(x.a3 as tf.Tensor3D, tf.reshape(x.b, [1, 15, 33]) as tf.Tensor3D) },
    { name: 'batched, shared right operand, 27 rows in all', ours: false, f: () => tf.matMul(tf.slice(x.a3, [0, 0, 0], [3, 9, 15]) as tf.Tensor3D, tf.reshape(x.b, [1, 15, 33]) as tf.Tensor3D) },
    { name: 'batched, one right operand each', ours: true, f: () => tf.matMul(x.a3 as tf.Tensor3D, x.b3 as tf.Tensor3D) },
    { name: 'fused with bias', ours: true, f: () => tf.fused.matMul({ a: x.a as tf.Tensor2D, b: x.b as tf.Tensor2D, bias: x.bias }) },
    { name: 'gradients of a product', ours: true, f: () => tf.concat(tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.square(tf.matMul(p as tf.Tensor2D, q as tf.Tensor2D))))([x.a as tf.Tensor, x.b as tf.Tensor]).map((g) => tf.reshape(g, [-1]))) },
    { name: 'transposed right operand', ours: false, f: () => tf.matMul(x.a as tf.Tensor2D, x.bt as tf.Tensor2D, false, true) },
    { name: 'fused with relu', ours: false, f: () => tf.fused.matMul({ a: x.a as tf.Tensor2D, b: x.b as tf.Tensor2D, bias: x.bias, activation: 'relu' }) },
    { name: 'broadcast left operand', ours: false, f: () => tf.matMul(tf.reshape(x.a, [1, 67, 15]) as tf.Tensor3D, x.b3big as tf.Tensor3D) },
    { name: 'fewer than 64 rows', ours: false, f: () => tf.matMul(tf.slice(x.a, [0, 0], [63, 15]) as tf.Tensor2D, x.b as tf.Tensor2D) },
  ];
  const results: Record<string, Record<string, Float32Array>> = {};
  for (const backend of ['cpu', 'wasm']) {
    await use(backend);
    const x = Object.fromEntries(Object.entries(data).map(([k, t]) => [k, tf.tensor(t.values, t.shape)])) as Record<keyof typeof data, tf.Tensor>;
    results[backend] = {};
    for (const c of cases(x)) {
      const before = matMulSimdCalls();
      (results[backend] as Record<string, Float32Array>)[c.name] = tf.tidy(() => c.f().dataSync() as Float32Array);
      if (backend === 'wasm') assert.equal(matMulSimdCalls() > before, c.ours, `${c.name}: SIMD tile ${c.ours ? 'not used' : 'used'}`);
    }
    Object.values(x).forEach((t) => t.dispose());
  }
  for (const name of Object.keys(results.cpu ?? {})) {
    const d = maxAbsDiff(results.cpu?.[name] as Float32Array, results.wasm?.[name] as Float32Array);
    assert.ok(d < 1e-4, `${name}: wasm vs cpu ${d}`);
  }
});
