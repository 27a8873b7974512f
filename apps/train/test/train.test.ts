import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@selfpatch/nn';
import { WriteError } from '@selfpatch/checkpoint/node';
import { BACKENDS, use } from '@selfpatch/backend/testing';
import { demoImagesDir } from '@selfpatch/data';
import { resolveConfig } from '../src/config.js';
import { listCheckpoints, readTrainCheckpoint } from '../src/checkpoint.js';
import { train, TrainingStopped, type MetricsRecord } from '../src/run.js';
import { maxDiffAll, readTensors, tinyConfig, tinySwinConfig, tmp } from './helpers.js';

const quiet = { log: () => {} };

function metrics(out: string): MetricsRecord[] {
  return readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as MetricsRecord);
}

test('demo preset on wasm: finite losses, a checkpoint, and --resume continues from it', async () => {
  await use('wasm');
  const out = tmp('demo');
  const first = await train(resolveConfig('demo', { out, max_steps: 2 }), { resume: false, ...quiet });
  assert.equal(first.iteration, 2);
  assert.ok(first.checkpoint && existsSync(first.checkpoint));
  assert.equal(readTrainCheckpoint(first.checkpoint).position.iteration, 2);
  const second = await train(resolveConfig('demo', { out, max_steps: 3 }), { resume: true, ...quiet });
  assert.equal(second.iteration, 3);
  const m = metrics(out);
  assert.deepEqual(
    m.map((r) => r.step),
    [0, 1, 2],
  );
  for (const r of m) {
    assert.ok(Number.isFinite(r.loss) && r.loss > 0, `step ${r.step} loss ${r.loss}`);
    assert.ok(Number.isFinite(r.terms.patch as number), 'the SelfPatch term is logged');
  }
});

for (const backend of BACKENDS) {
  test(`[${backend}] interrupted + resumed run ends with the same weights as an uninterrupted one`, async () => {
    await use(backend);
    const whole = tmp(`whole-${backend}`);
    const split = tmp(`split-${backend}`);
    const a = await train(tinyConfig({ out: whole, max_steps: 7 }), { resume: false, ...quiet });
    await train(tinyConfig({ out: split, max_steps: 4 }), { resume: false, ...quiet });
    const b = await train(tinyConfig({ out: split, max_steps: 7 }), { resume: true, ...quiet });
    assert.equal(a.iteration, 7);
    assert.equal(b.iteration, 7);
    const diff = maxDiffAll(readTensors(a.checkpoint as string), readTensors(b.checkpoint as string));
    // cpu: bit-exact. wasm: same kernels in the same order, so also exact here; allow float noise.
    if (backend === 'cpu') assert.equal(diff, 0);
    else assert.ok(diff <= 1e-6, `max |Δ| ${diff}`);
    assert.deepEqual(
      metrics(split).map((r) => r.loss),
      metrics(whole).map((r) => r.loss),
    );
    // The teacher really moved: the checkpoint differs from the initial weights.
    const t0 = readTrainCheckpoint(listCheckpoints(whole)[0] as string).objective.tensors['teacher.backbone.blocks.0.attn.qkv.weight'];
    const t1 = readTensors(a.checkpoint as string).get('teacher.backbone.blocks.0.attn.qkv.weight');
    assert.notDeepEqual(t0?.data, t1?.data);
  });
}

test('the training loop is leak-free: tensor count is stable across steps', async () => {
  await use('cpu');
  const counts: number[] = [];
  await train(tinyConfig({ out: tmp('leak'), max_steps: 6, save_every: 100 }), { resume: false, ...quiet, onStep: () => counts.push(tf.memory().numTensors) });
  // Step 0 creates the AdamW moments (step 1 those of the last layer, frozen during epoch 0).
  const steady = counts.slice(3);
  assert.ok(steady.length >= 3);
  assert.ok(
    steady.every((c) => c === steady[0]),
    `tensor counts ${counts.join(', ')}`,
  );
});

test('a non-finite loss stops training with a clear error and keeps the last good checkpoint', async () => {
  await use('cpu');
  const out = tmp('nan');
  const err = await train(tinyConfig({ out, lr: 1e30, warmup_epochs: 0, save_every: 1, max_steps: 12 }), { resume: false, ...quiet }).catch((e: unknown) => e);
  assert.ok(err instanceof TrainingStopped, String(err));
  assert.equal(err.exitCode, 3);
  assert.match(err.message, /loss is (NaN|-?Infinity) at iteration (\d+).*last good checkpoint is .*checkpoint-\d+\.safetensors/s);
  const files = listCheckpoints(out);
  assert.ok(files.length >= 1);
  const last = readTrainCheckpoint(files.at(-1) as string);
  const bad = Number(/iteration (\d+)/.exec(err.message)?.[1]);
  assert.equal(last.position.iteration, bad, 'the newest checkpoint is the state right before the failing step');
  for (const t of Object.values(last.objective.tensors)) if (t.dtype === 'float32') assert.ok((t.data as Float32Array).every(Number.isFinite));
});

test('a failed checkpoint write is a WriteError naming the file; the previous checkpoint stays intact', async () => {
  await use('cpu');
  const out = tmp('write');
  // A directory where the step-4 checkpoint must go makes its rename fail (as a full disk would).
  mkdirSync(join(out, 'checkpoints', 'checkpoint-00000004.safetensors'), { recursive: true });
  const err = await train(tinyConfig({ out, max_steps: 6, save_every: 2 }), { resume: false, ...quiet }).catch((e: unknown) => e);
  assert.ok(err instanceof WriteError, String(err));
  assert.match(err.message, /checkpoint-00000004\.safetensors/);
  const prev = readTrainCheckpoint(join(out, 'checkpoints', 'checkpoint-00000002.safetensors'));
  assert.equal(prev.position.iteration, 2);
  assert.deepEqual(
    readdirSync(join(out, 'checkpoints')).filter((f) => f.endsWith('.tmp')),
    [],
    'no temp file left behind',
  );
});

test('bad runs are refused before any work: missing data, existing run without --resume, changed config on resume', async () => {
  await use('cpu');
  await assert.rejects(train(tinyConfig({ out: tmp('nodata'), data: '/nonexistent/images' }), { resume: false, ...quiet }), (e: unknown) => e instanceof ConfigError && e.option === 'data');
  const out = tmp('exists');
  await train(tinyConfig({ out, max_steps: 2 }), { resume: false, ...quiet });
  await assert.rejects(train(tinyConfig({ out, max_steps: 3 }), { resume: false, ...quiet }), (e: unknown) => e instanceof ConfigError && /--resume/.test(e.message));
  await assert.rejects(train(tinyConfig({ out, max_steps: 3, lr: 0.5 }), { resume: true, ...quiet }), (e: unknown) => e instanceof ConfigError && e.option === 'lr' && /cannot change 'lr'/.test(e.message));
  await assert.rejects(train(tinyConfig({ out: tmp('none'), max_steps: 3 }), { resume: true, ...quiet }), (e: unknown) => e instanceof ConfigError && e.option === '--resume');
});

test('corrupt and non-image files in the data folder are skipped and reported, not fatal', async () => {
  await use('cpu');
  const data = tmp('data');
  for (const f of readdirSync(demoImagesDir()).slice(0, 8)) copyFileSync(join(demoImagesDir(), f), join(data, f));
  writeFileSync(join(data, 'truncated.jpg'), readFileSync(join(demoImagesDir(), readdirSync(demoImagesDir())[0] as string)).subarray(0, 300));
  writeFileSync(join(data, 'empty.png'), '');
  const logs: string[] = [];
  const r = await train(tinyConfig({ out: tmp('skip'), data, max_steps: 4 }), { resume: false, log: (l) => logs.push(l) });
  assert.equal(r.iteration, 4);
  assert.ok(r.skippedFiles >= 2, `skipped ${r.skippedFiles}`);
  assert.ok(logs.some((l) => l.includes('empty.png')));
});

test('plain DINO trains with the official DINO keys (backbone.*, head.*; CLS-token backbone)', async () => {
  await use('cpu');
  const r = await train(tinyConfig({ out: tmp('dino'), method: 'dino', max_steps: 2 }), { resume: false, ...quiet });
  const keys = [...readTensors(r.checkpoint as string).keys()].filter((k) => k.startsWith('teacher.'));
  assert.ok(keys.includes('teacher.backbone.cls_token'));
  assert.ok(keys.some((k) => k.startsWith('teacher.head.')));
  assert.ok(!keys.some((k) => k.startsWith('teacher.ca_head.') || k.startsWith('teacher.p_head.')));
});

test('MoBY + SelfPatch on Swin: finite losses with all terms, exact resume', async () => {
  await use('cpu');
  const whole = tmp('moby-whole');
  const split = tmp('moby-split');
  const a = await train(tinySwinConfig({ out: whole, max_steps: 5 }), { resume: false, ...quiet });
  await train(tinySwinConfig({ out: split, max_steps: 2 }), { resume: false, ...quiet });
  const b = await train(tinySwinConfig({ out: split, max_steps: 5 }), { resume: true, ...quiet });
  for (const r of metrics(whole)) {
    assert.ok(Number.isFinite(r.loss));
    assert.deepEqual(Object.keys(r.terms).sort(), ['loss12', 'loss21', 'patch']);
  }
  assert.equal(maxDiffAll(readTensors(a.checkpoint as string), readTensors(b.checkpoint as string)), 0);
  assert.ok(a.exported && existsSync(a.exported.safetensors));
  const keys = [...readTensors(a.exported.safetensors).keys()];
  assert.ok(keys.includes('layers.0.blocks.0.attn.relative_position_bias_table'), 'official Swin keys');
});
