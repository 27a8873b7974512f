/**
 * Regression tests for the failure modes an adversarial run of the CLI found: a data folder with
 * fewer usable images than a batch, pruning next to a damaged checkpoint, two writers in one
 * folder, temp files of killed writes, symlinked images, skip reports, and the one-line errors
 * with stable exit codes. Every hostile file is made here, not committed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@selfpatch/nn';
import { acquireRunLock, RunLockedError } from '@selfpatch/checkpoint/node';
import { deeplyNestedPth } from '@selfpatch/nn/testing';
import { use } from '@selfpatch/backend/testing';
import { demoImagesDir, NotEnoughImagesError } from '@selfpatch/data';
import { loadBackboneFile } from '@selfpatch/eval/node';
import * as tf from '@tensorflow/tfjs-core';
import { checkpointIntact, listCheckpoints, readTrainCheckpoint } from '../src/checkpoint.js';
import { dataFiles, RunWriteError, train } from '../src/run.js';
import { interruptAfterStep, tinyConfig, tmp } from './helpers.js';

const quiet = { log: () => {} };
const appDir = fileURLToPath(new URL('..', import.meta.url));
const main = join(appDir, 'src', 'main.ts');
const TINY = ['--patch-size', '8', '--embed-dim', '48', '--depth', '2', '--num-heads', '2', '--global-crop-size', '32', '--local-crop-size', '24', '--out-dim', '256', '--out-dim-selfpatch', '128', '--hidden-dim', '64', '--bottleneck-dim', '32', '--epochs', '4'];

function cli(args: string[], timeout = 300_000) {
  return spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', main, ...args], { cwd: appDir, encoding: 'utf8', timeout });
}

function photos(n: number): string {
  const dir = tmp('photos');
  for (const f of readdirSync(demoImagesDir()).slice(0, n)) copyFileSync(join(demoImagesDir(), f), join(dir, f));
  return dir;
}

function assertOneLine(stderr: string): void {
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  assert.ok(stderr.length < 2000, `short output, got ${stderr.length} characters`);
}

test('fewer decodable images than batch_size: a clear error at once, not a hang, and no run folder left', async () => {
  await use('cpu');
  const data = photos(3);
  writeFileSync(join(data, 'notes.png'), 'not an image at all');
  const out = join(tmp('fewer'), 'run');
  const t0 = Date.now();
  const err = await train(tinyConfig({ out, data, batch_size: 4, max_steps: 2 }), { resume: false, ...quiet }).catch((e: unknown) => e);
  assert.ok(err instanceof NotEnoughImagesError, String(err));
  assert.ok(err instanceof ConfigError && err.option === 'batch_size');
  assert.match(err.message, /only 3 of the 4 image files decode/);
  assert.match(err.message, /notes\.png: not an image/);
  assert.match(err.message, /lower batch_size to at most 3/);
  assert.ok(Date.now() - t0 < 60_000, 'answered promptly');
  assert.equal(existsSync(out), false, 'a refused run leaves no folder (no config.json, no empty metrics.jsonl)');
  // Through the CLI: exit 2 and one line.
  const r = cli([...TINY, '--backend', 'cpu', '--data', data, '--batch-size', '4', '--max-steps', '2', '--out', out], 120_000);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /only 3 of the 4 image files decode/);
  assertOneLine(r.stderr);
});

test('pruning never removes the checkpoint a run would resume from; damaged files are never the newest', async () => {
  await use('cpu');
  const out = tmp('prune');
  await train(tinyConfig({ out, max_steps: 4, save_every: 2 }), { resume: false, ...quiet });
  const damaged = join(out, 'checkpoints', 'checkpoint-00000099.safetensors');
  writeFileSync(damaged, 'garbage that is not a checkpoint');
  const logs: string[] = [];
  const r = await train(tinyConfig({ out, max_steps: 6, save_every: 1, keep_last: 1 }), { resume: true, log: (l) => logs.push(l) });
  assert.equal(r.iteration, 6);
  assert.ok(logs.some((l) => /skipping unreadable checkpoint .*checkpoint-00000099/.test(l)));
  const names = listCheckpoints(out).map((p) => p.slice(p.lastIndexOf('/') + 1));
  assert.deepEqual(names, ['checkpoint-00000006.safetensors', 'checkpoint-00000099.safetensors'], 'the good newest one is kept, the damaged one left alone');
  assert.equal(checkpointIntact(damaged), false);
  assert.equal(checkpointIntact(join(out, 'checkpoints', 'checkpoint-00000006.safetensors')), true);
  const again = await train(tinyConfig({ out, max_steps: 7, save_every: 1, keep_last: 1 }), { resume: true, ...quiet });
  assert.equal(again.iteration, 7, 'the next --resume finds step 6');
});

test('one writer per output folder: a live holder is refused by name, a dead one is taken over', async () => {
  await use('cpu');
  const out = tmp('lock');
  const lock = acquireRunLock(out);
  try {
    const err = await train(tinyConfig({ out, max_steps: 2 }), { resume: false, ...quiet }).catch((e: unknown) => e);
    assert.ok(err instanceof RunLockedError, String(err));
    assert.match(err.message, new RegExp(`in use by another run \\(pid ${process.pid} `));
    assert.equal(err.exitCode, 5);
  } finally {
    lock.release();
  }
  // A lock left by a killed process (its pid is gone) does not block the next run.
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  writeFileSync(join(out, '.selfpatch.lock'), JSON.stringify({ pid: Number(dead.stdout), host: (await import('node:os')).hostname(), started: 'then', command: 'killed' }));
  const r = await train(tinyConfig({ out, max_steps: 2 }), { resume: false, ...quiet });
  assert.equal(r.iteration, 2);
  assert.equal(existsSync(join(out, '.selfpatch.lock')), false, 'released at the end');
});

test('a temp file left by a write killed mid-way is removed by the next run in the folder', async () => {
  await use('cpu');
  const out = tmp('stale');
  await train(tinyConfig({ out, max_steps: 2, save_every: 2 }), { resume: false, ...quiet });
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const stale = join(out, 'checkpoints', `.checkpoint-00000004.safetensors.${dead.stdout}.1764000000000.tmp`);
  writeFileSync(stale, new Uint8Array(1 << 20));
  const logs: string[] = [];
  await train(tinyConfig({ out, max_steps: 3 }), { resume: true, log: (l) => logs.push(l) });
  assert.equal(existsSync(stale), false);
  assert.ok(logs.some((l) => l.includes('left by an interrupted write')));
});

test('symlinked images are followed, and a symlink loop is reported once, not walked forever', async () => {
  await use('cpu');
  const src = photos(6);
  const data = tmp('links');
  for (const f of readdirSync(src)) symlinkSync(join(src, f), join(data, f));
  mkdirSync(join(data, 'sub'));
  symlinkSync(data, join(data, 'sub', 'loop'));
  const logs: string[] = [];
  const { files } = dataFiles(tinyConfig({ data }), (l) => logs.push(l));
  assert.equal(files.length, 6);
  assert.ok(logs.some((l) => /links back to a folder already read/.test(l)), logs.join('\n'));
  const r = await train(tinyConfig({ out: tmp('links-run'), data, batch_size: 4, max_steps: 2 }), { resume: false, ...quiet });
  assert.equal(r.iteration, 2);
});

test('each unusable file is reported once, with its real reason and its path once', async () => {
  await use('cpu');
  const data = photos(8);
  writeFileSync(join(data, 'empty.png'), '');
  writeFileSync(join(data, 'text.jpg'), 'hello');
  symlinkSync(join(data, 'missing-target.jpg'), join(data, 'dangling.jpg'));
  const logs: string[] = [];
  // batch 4 over 8 good files: 2 steps per epoch, so 6 steps cross 3 epochs.
  const r = await train(tinyConfig({ out: tmp('report'), data, batch_size: 4, max_steps: 6 }), { resume: false, log: (l) => logs.push(l) });
  assert.equal(r.iteration, 6);
  assert.equal(r.skippedFiles, 3);
  const lines = logs.filter((l) => l.startsWith('skipped '));
  assert.equal(lines.length, 3, lines.join('\n'));
  const reason = (name: string) => lines.find((l) => l.includes(`/${name}:`)) ?? '';
  assert.match(reason('empty.png'), /: empty file$/);
  assert.match(reason('text.jpg'), /: not an image \(unrecognised format\)$/);
  assert.match(reason('dangling.jpg'), /: file not found \(deleted, or a dangling link\)$/);
  for (const l of lines) assert.equal(l.split(data).length - 1, 1, `path printed once: ${l}`);
});

test('a failed write before any checkpoint says so (not "previous checkpoints are intact")', async () => {
  await use('cpu');
  const out = tmp('first-write');
  mkdirSync(join(out, 'checkpoints', 'checkpoint-00000002.safetensors'), { recursive: true });
  const err = await train(tinyConfig({ out, max_steps: 4, save_every: 2 }), { resume: false, ...quiet }).catch((e: unknown) => e);
  assert.ok(err instanceof RunWriteError, String(err));
  assert.match(err.message, /No checkpoint had been written yet/);
  assert.doesNotMatch(err.message, /intact/);
});

test('SIGINT on --backend cpu with worker-thread decoding stops after the current step (exit 130)', async () => {
  // 48 images, batch 4: one 12-step epoch, so the worker decodes ahead and every batch is ready
  // when asked for — the loop then never waits on the event loop unless it yields on purpose.
  const data = tmp('many');
  const src = readdirSync(demoImagesDir());
  for (let i = 0; i < 48; i++) copyFileSync(join(demoImagesDir(), src[i % src.length] as string), join(data, `${i}.jpg`));
  const out = tmp('sigint-cpu');
  const r = await interruptAfterStep([...TINY, '--epochs', '1', '--warmup-epochs', '0', '--data', data, '--backend', 'cpu', '--num-workers', '1', '--out', out, '--save-every', '100', '--log-every', '1'], 2, appDir, main);
  assert.equal(r.code, 130, r.stderr);
  const at = readTrainCheckpoint(listCheckpoints(out)[0] as string).position.iteration;
  assert.ok(at >= 2 && at <= 4, `stopped at ${at}: right after the step that was running, not at the end (12)`);
});

test('eval and infer read the training app\'s own checkpoints (teacher by default, --which student)', async () => {
  await use('cpu');
  const out = tmp('ckpt-eval');
  const r = await train(tinyConfig({ out, max_steps: 2 }), { resume: false, ...quiet });
  // Width 48 is no preset, so the head count is given (as with --num-heads).
  const fromCkpt = loadBackboneFile(r.checkpoint as string, { numHeads: 2 });
  const exported = loadBackboneFile(r.exported?.safetensors as string, { numHeads: 2 });
  const student = loadBackboneFile(r.checkpoint as string, { which: 'student', numHeads: 2 });
  const x = tf.randomNormal([1, 3, 32, 32], 0, 1, 'float32', 3) as tf.Tensor4D;
  const a = fromCkpt.features(x);
  const b = exported.features(x);
  const c = student.features(x);
  assert.deepEqual(Array.from(a.feats.dataSync()), Array.from(b.feats.dataSync()), 'the checkpoint\'s teacher is the exported teacher');
  assert.notDeepEqual(Array.from(c.feats.dataSync()), Array.from(a.feats.dataSync()), 'student differs from teacher after 2 steps');
  tf.dispose([x, a.feats, b.feats, c.feats]);
  for (const n of [fromCkpt, exported, student]) n.dispose();
});

test('CLI errors are one line with a stable exit code; the stack only with --verbose', () => {
  const deep = join(tmp('deep'), 'deep.pth');
  writeFileSync(deep, deeplyNestedPth(100_000));
  const r = cli(['export', '--checkpoint', deep, '--out', tmp('exp'), '--backend', 'cpu']);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /deep\.pth: a PyTorch file, not a selfpatch-train checkpoint/);
  assertOneLine(r.stderr);
  const v = cli(['export', '--checkpoint', deep, '--out', tmp('exp'), '--backend', 'cpu', '--verbose']);
  assert.equal(v.status, 2);
  assert.match(v.stderr, /\n\s+at /, '--verbose prints the stack');
});
