import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, StateDictError, tensorToRaw, type RawTensor } from '@selfpatch/nn';
import { BACKENDS, use } from '@selfpatch/backend/testing';
import { installWasmKernels, uninstallWasmKernels } from '@selfpatch/backend';
import { VisionTransformer, vitConfig, inferVitConfig, vitStateDictFrom, patchify, interpolatePosEmbed } from '../src/index.js';

test('parameter counts match docs/selfpatch.md §1 (SelfPatch layout)', async () => {
  await use('cpu');
  for (const [arch, millions] of [['vit_tiny', 5.52], ['vit_small', 21.66]] as const) {
    const vit = new VisionTransformer(vitConfig(arch));
    assert.equal(Math.round(vit.numParameters() / 1e4) / 100, millions, arch);
    vit.dispose();
  }
});

test('any input size: non-square, patch 8, remainder pixels dropped; CLS layout adds one token', async () => {
  await use('wasm');
  const sp = new VisionTransformer(vitConfig('vit_tiny', { depth: 2, patchSize: 8, imgSize: 64 }), { rng: new Rng(1) }).eval();
  const out = sp.forward(tf.zeros([2, 3, 40, 72]) as tf.Tensor4D);
  assert.deepEqual(out.shape, [2, 5 * 9, 192]);
  const odd = sp.forward(tf.zeros([1, 3, 47, 79]) as tf.Tensor4D); // 47//8=5, 79//8=9
  assert.deepEqual(odd.shape, [1, 45, 192]);
  const dino = new VisionTransformer(vitConfig('vit_tiny', { depth: 2, layout: 'dino' }), { rng: new Rng(1) }).eval();
  assert.deepEqual(dino.forward(tf.zeros([2, 3, 96, 160]) as tf.Tensor4D).shape, [2, 192]);
  assert.deepEqual(dino.getLastSelfAttention(tf.zeros([1, 3, 96, 160]) as tf.Tensor4D).shape, [1, 3, 61, 61]);
  const inter = dino.getIntermediateLayers(tf.zeros([1, 3, 32, 48]) as tf.Tensor4D, 2);
  assert.deepEqual(inter.map((t) => t.shape), [[1, 7, 192], [1, 7, 192]]);
  assert.throws(() => dino.getIntermediateLayers(tf.zeros([1, 3, 32, 32]) as tf.Tensor4D, 3), { name: 'ShapeError' });
  assert.throws(() => sp.forward(tf.zeros([1, 3, 4, 4]) as tf.Tensor4D), { name: 'ShapeError' });
  tf.dispose([out, odd, ...inter]);
  sp.dispose();
  dino.dispose();
});

test('eval-mode blocks on wasm run as one fused kernel each, with the same output bits; not for attention maps, in training or on the tape', async () => {
  await use('wasm');
  const vit = new VisionTransformer(vitConfig('vit_tiny', { depth: 3, embedDim: 48, numHeads: 3, imgSize: 64 }), { rng: new Rng(8) }).eval();
  const x = tf.randomNormal([2, 3, 48, 64], 0, 1, 'float32', 3) as tf.Tensor4D;
  const fusedCalls = async (f: () => tf.Tensor): Promise<number> =>
    (await tf.profile(() => void tf.tidy(() => f().dataSync()))).kernels.filter((k) => k.name === 'SelfPatchInferenceBlock').length;
  assert.equal(await fusedCalls(() => vit.forward(x)), 3, 'one kernel per block');
  // The last block returns its attention map, so it runs op by op.
  assert.equal(await fusedCalls(() => vit.getLastSelfAttention(x)), 2, 'attention maps: the last block op by op');
  const fused = tf.tidy(() => vit.forward(x).dataSync().slice());
  uninstallWasmKernels(['SelfPatchInferenceBlock']);
  try {
    assert.equal(await fusedCalls(() => vit.forward(x)), 0);
    const apart = tf.tidy(() => vit.forward(x).dataSync().slice());
    assert.deepEqual(Array.from(fused), Array.from(apart), 'the same bits as the blocks op by op');
  } finally {
    uninstallWasmKernels();
    installWasmKernels();
  }
  assert.equal(await fusedCalls(() => vit.forward(x)), 3, 'registered again');
  assert.equal(await fusedCalls(() => tf.grad((t) => tf.sum(vit.forward(t as tf.Tensor4D)))(x)), 0, 'not on the gradient tape');
  vit.train();
  assert.equal(await fusedCalls(() => vit.forward(x)), 0, 'not in train mode');
  vit.dispose();
  x.dispose();
});

test('patchify orders patch vectors as the conv weight (channel, ky, kx), patches row-major', async () => {
  await use('cpu');
  const x = tf.tensor(Float32Array.from({ length: 2 * 4 * 6 }, (_, i) => i), [1, 2, 4, 6]) as tf.Tensor4D;
  const { patches, grid } = patchify(x, 2);
  assert.deepEqual(grid, { h: 2, w: 3 });
  // Patch (row 1, col 2): channel 0 rows 2-3 cols 4-5, then channel 1.
  const p5 = Array.from(patches.dataSync().slice(5 * 8, 6 * 8));
  assert.deepEqual(p5, [16, 17, 22, 23, 40, 41, 46, 47]);
});

test('interpolation is the identity on the training grid and differentiable elsewhere', async () => {
  await use('cpu');
  const pe = tf.randomNormal([1, 16, 3]);
  assert.equal(interpolatePosEmbed(pe, 4, 4), pe);
  const g = tf.grad((p: tf.Tensor) => tf.sum(interpolatePosEmbed(p, 2, 3)))(pe);
  // Every source entry contributes to the downsampled grid.
  assert.ok(Array.from(g.dataSync()).every((v) => Number.isFinite(v)));
  assert.ok(tf.sum(tf.abs(g)).dataSync()[0] as number > 0);
});

test('drop path: stochastic and seeded in train mode, identity in eval mode', async () => {
  await use('wasm');
  const mk = () => new VisionTransformer(vitConfig('vit_tiny', { depth: 4, dropPathRate: 0.5 }), { rng: new Rng(3), dropPathRng: new Rng(4) });
  const a = mk();
  const b = mk();
  const x = tf.randomNormal([8, 3, 32, 32], 0, 1, 'float32', 1) as tf.Tensor4D;
  const ya = a.forward(x).dataSync();
  assert.deepEqual(Array.from(b.forward(x).dataSync()), Array.from(ya), 'same seeds, same masks');
  a.eval();
  const e1 = a.forward(x).dataSync();
  const e2 = a.forward(x).dataSync();
  assert.deepEqual(Array.from(e1), Array.from(e2));
  assert.notDeepEqual(Array.from(e1), Array.from(ya));
  a.dispose();
  b.dispose();
});

test('training step: gradients reach every parameter (pos_embed through interpolation) and tensors stay flat', async () => {
  for (const backend of BACKENDS) {
    await use(backend);
    const vit = new VisionTransformer(vitConfig('vit_tiny', { depth: 2, embedDim: 48, numHeads: 3, layout: 'dino', dropPathRate: 0.1 }), { rng: new Rng(5) });
    const vars = vit.trainableVariables();
    const x = tf.randomNormal([2, 3, 48, 64], 0, 1, 'float32', 2) as tf.Tensor4D;
    const step = (): Record<string, number> => {
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(vit.forward(x))) as tf.Scalar, vars);
      const norms = tf.tidy(() => Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.norm(g).dataSync()[0] as number])));
      tf.tidy(() => vars.forEach((v) => v.assign(tf.sub(v, tf.mul(grads[v.name] as tf.Tensor, 1e-3)))));
      tf.dispose([value, ...Object.values(grads)]);
      return norms;
    };
    const norms = step();
    for (const [key, v] of vit.namedParameters()) assert.ok((norms[v.name] ?? 0) > 0, `${backend}: no gradient for ${key}`);
    const baseline = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) step();
    assert.equal(tf.memory().numTensors, baseline, `${backend}: tensors leaked`);
    vit.dispose();
    x.dispose();
  }
});

test('checkpoint helpers: nesting/prefixes, inferred config, and errors that name what is wrong', async () => {
  await use('cpu');
  const vit = new VisionTransformer(vitConfig('vit_small', { depth: 2, layout: 'dino' }), { rng: new Rng(6) });
  const raw: Record<string, RawTensor> = {};
  for (const [k, t] of Object.entries(vit.stateDict())) raw[k] = tensorToRaw(t);
  const nested = {
    teacher: Object.fromEntries(Object.entries(raw).map(([k, v]) => [`backbone.${k}`, v]).concat([['head.last_layer.weight_g', raw['norm.bias'] as RawTensor]])),
    student: Object.fromEntries(Object.entries(raw).map(([k, v]) => [`module.backbone.${k}`, v])),
    epoch: 3,
  };
  assert.deepEqual(Object.keys(vitStateDictFrom(nested)).sort(), Object.keys(raw).sort());
  assert.deepEqual(Object.keys(vitStateDictFrom(nested, { which: 'student' })).sort(), Object.keys(raw).sort());
  const cfg = inferVitConfig(raw);
  assert.deepEqual([cfg.layout, cfg.embedDim, cfg.depth, cfg.numHeads, cfg.patchSize, cfg.imgSize], ['dino', 384, 2, 6, 16, 224]);
  assert.throws(() => vitStateDictFrom(nested, { which: 'model', source: 'x.pth' }), /x\.pth: checkpoint has no entry 'model'.*teacher, student, epoch/);
  // A DINO checkpoint does not load into the SelfPatch layout: the error names the keys.
  const sp = new VisionTransformer(vitConfig('vit_small', { depth: 2 }));
  assert.throws(() => sp.loadStateDict(raw, { context: 'dino.pth' }), (err: unknown) => {
    assert.ok(err instanceof StateDictError);
    assert.deepEqual(err.unexpected.sort(), ['cls_token', 'norm.bias', 'norm.weight']);
    assert.deepEqual(err.mismatched.map((m) => m.key), ['pos_embed']);
    return true;
  });
  assert.throws(() => vitConfig('vit_huge' as never), /unknown architecture 'vit_huge'/);
  assert.throws(() => vitConfig('vit_tiny', { numHeads: 5 }), /'numHeads'.*not divisible/);
  vit.dispose();
  sp.dispose();
});

test('train()/eval() reach every module, the drop-path layers included (named like timm: blocks.i.drop_path)', async () => {
  const { DropPath } = await import('@selfpatch/nn');
  await use('cpu');
  const vit = new VisionTransformer(vitConfig('vit_tiny', { depth: 3, dropPathRate: 0.2 }), { rng: new Rng(0) });
  const drops = vit.namedModules().filter(([, m]) => m instanceof DropPath).map(([n]) => n);
  assert.deepEqual(drops, ['blocks.0.drop_path', 'blocks.1.drop_path', 'blocks.2.drop_path']);
  vit.eval();
  assert.ok(vit.namedModules().every(([, m]) => !m.training), 'eval() left a module in training mode');
  vit.train();
  assert.ok(vit.namedModules().every(([, m]) => m.training), 'train() left a module in eval mode');
  // Drop path is stochastic in training and the identity in eval.
  const x = tf.randomNormal([4, 3, 32, 32], 0, 1, 'float32', 1) as tf.Tensor4D;
  const a = vit.forward(x);
  vit.eval();
  const b = vit.forward(x);
  const c = vit.forward(x);
  assert.ok(tf.max(tf.abs(tf.sub(b, c))).dataSync()[0] === 0, 'eval forward is deterministic');
  assert.ok((tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number) > 0, 'training forward drops paths');
  tf.dispose([x, a, b, c]);
  vit.dispose();
});
