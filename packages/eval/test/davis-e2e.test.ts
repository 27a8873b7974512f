/**
 * End to end on the real DAVIS-2016 sample (../shared/data/davis2016-sample or SELFPATCH_DAVIS_DIR):
 * the CLI propagates both sequences with a fixed checkpoint (a seeded ViT-Ti/16 written to
 * safetensors), writes palette PNGs and the davis2017-evaluation CSVs, resumes, and the score
 * moves with the features: the same backbone with per-frame permuted patch features scores lower.
 * Frames use a 192 px short side (the official 480 rule scaled) to keep CI short; the benchmark
 * runs the official size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode } from 'fast-png';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@selfpatch/nn';
import { serializeSafetensors } from '@selfpatch/checkpoint';
import { use } from '@selfpatch/backend/testing';
import { readMask } from '@selfpatch/data';
import { exportVitStateDict, VisionTransformer, vitConfig } from '@selfpatch/vit';
import { SwinTransformer, swinTiny } from '@selfpatch/swin';
import { GLOBAL_COLUMNS } from '../src/index.js';
import { davisSequences, evaluateDavis, loadBackboneFile, runDavis, type DenseBackbone } from '../src/node/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const davis = resolve(process.env.SELFPATCH_DAVIS_DIR ?? join(here, '../../../../shared/data/davis2016-sample/DAVIS'));
const main = join(here, '..', 'src', 'node', 'main.ts');
const SHORT = 192;

function davisOrSkip(t: { skip: (m: string) => void }): boolean {
  if (existsSync(davis)) return true;
  if (process.env.CI === 'true') throw new Error(`DAVIS sample missing at ${davis} (set SELFPATCH_DAVIS_DIR)`);
  t.skip('DAVIS sample not found');
  return false;
}

function fixedCheckpoint(dir: string): string {
  const vit = new VisionTransformer(vitConfig('vit_tiny'), { rng: new Rng(2022) });
  const path = join(dir, 'vit_tiny_seed2022.safetensors');
  writeFileSync(path, serializeSafetensors(exportVitStateDict(vit)));
  vit.dispose();
  return path;
}

function cli(args: string[]) {
  return spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', main, ...args], { encoding: 'utf8', timeout: 900_000 });
}

function readCsv(path: string): Array<Record<string, string>> {
  const [head, ...rows] = readFileSync(path, 'utf8').trim().split('\n');
  const cols = (head as string).split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [cols[i] as string, v])));
}

/** The same backbone with each frame's patch features shuffled over positions. */
function permuted(net: DenseBackbone): DenseBackbone {
  const rng = new Rng(9);
  return {
    ...net,
    kind: net.kind,
    stride: net.stride,
    description: `${net.description}, permuted`,
    features(x) {
      const d = net.features(x);
      const idx = Array.from({ length: d.h * d.w }, (_, i) => i);
      rng.shuffle(idx);
      const feats = tf.gather(d.feats, tf.tensor1d(idx, 'int32')) as tf.Tensor2D;
      d.feats.dispose();
      return { ...d, feats };
    },
    embed: (x) => net.embed(x),
    attention: (x) => net.attention(x),
    dispose: () => net.dispose(),
  };
}

test('selfpatch-eval davis: both sample sequences end to end, CSVs, palette PNGs, resume; permuted features score lower', async (t) => {
  if (!davisOrSkip(t)) return;
  await use('wasm');
  const dir = mkdtempSync(join(tmpdir(), 'selfpatch-eval-davis-'));
  const ckpt = fixedCheckpoint(dir);
  const out = join(dir, 'results');
  const r = cli(['davis', '--checkpoint', ckpt, '--davis', davis, '--year', '2016', '--out', out, '--short-side', String(SHORT), '--backend', 'wasm']);
  assert.equal(r.status, 0, r.stderr);
  const global = readCsv(join(out, 'global_results.csv'));
  assert.deepEqual(Object.keys(global[0] as object), [...GLOBAL_COLUMNS]);
  const perSeq = readCsv(join(out, 'per-sequence_results.csv'));
  assert.deepEqual(
    perSeq.map((row) => row.Sequence),
    ['blackswan_1', 'car-shadow_1'],
  );
  const jf = Number(global[0]?.['J&F-Mean']);
  assert.ok(jf > 0.05 && jf < 1, `J&F ${jf}`);
  assert.match(r.stdout, /global\s+0\.\d{3}/);

  // Indexed PNGs with the VOC palette, original size, first frame = the given mask.
  const seqs = davisSequences(davis, { year: '2016' });
  for (const seq of seqs) {
    const png = decode(readFileSync(join(out, seq.name, '00010.png')));
    assert.equal(png.width, 854);
    assert.equal(png.height, 480);
    assert.ok(png.palette && png.palette.length >= 2);
    assert.deepEqual(png.palette?.[1], [128, 0, 0]);
    assert.deepEqual(readMask(join(out, seq.name, '00000.png')).labels, readMask(seq.masks[0] as string).labels);
  }

  // Library scores match the CSV; a rerun resumes (skips both sequences) and reproduces the table.
  const scores = evaluateDavis(seqs, out);
  assert.equal(scores.global['J&F-Mean'].toFixed(3), global[0]?.['J&F-Mean']);
  const again = cli(['davis', '--checkpoint', ckpt, '--davis', davis, '--year', '2016', '--out', out, '--short-side', String(SHORT), '--backend', 'wasm']);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /blackswan: already done/);
  assert.deepEqual(readCsv(join(out, 'global_results.csv')), global);

  // Same checkpoint, features permuted per frame: the score must drop.
  const net = permuted(loadBackboneFile(ckpt));
  const outP = join(dir, 'permuted');
  await runDavis(net, { davis, year: '2016', out: outP, shortSide: SHORT });
  net.dispose();
  const worse = evaluateDavis(seqs, outP);
  assert.ok(worse.global['J&F-Mean'] < scores.global['J&F-Mean'] - 0.05, `permuted ${worse.global['J&F-Mean']} vs ${scores.global['J&F-Mean']}`);
  t.diagnostic(`J&F ${scores.global['J&F-Mean'].toFixed(3)}; permuted features ${worse.global['J&F-Mean'].toFixed(3)}`);
  for (const [i, o] of worse.objects.entries()) assert.ok(o.J.mean < (scores.objects[i]?.J.mean as number), o.name);
});

test('Swin checkpoints load by their keys and propagate; unknown sequences and bad checkpoints are clear errors', async (t) => {
  if (!davisOrSkip(t)) return;
  await use('wasm');
  const dir = mkdtempSync(join(tmpdir(), 'selfpatch-eval-swin-'));
  const swin = new SwinTransformer(swinTiny({ embedDim: 16, depths: [2, 2], numHeads: [2, 4] }), { rng: new Rng(3) });
  // MoBY layout: the target encoder under encoder_k. (what the train app's MoBY checkpoints hold).
  const sd = Object.fromEntries(Object.entries(swin.stateDict()).map(([k, v]) => [`encoder_k.${k}`, { dtype: 'float32' as const, shape: v.shape, data: v.dataSync() as Float32Array }]));
  swin.dispose();
  const path = join(dir, 'moby.safetensors');
  writeFileSync(path, serializeSafetensors(sd));
  const net = loadBackboneFile(path);
  assert.equal(net.kind, 'swin');
  assert.equal(net.stride, 8);
  const seq = davisSequences(davis, { year: '2016', sequences: ['car-shadow'] })[0];
  assert.ok(seq);
  const short = { ...seq, frames: seq.frames.slice(0, 4), masks: seq.masks.slice(0, 4) };
  const { propagateSequence } = await import('../src/node/davis.js');
  await propagateSequence(net, short, join(dir, 'car-shadow'), { davis, out: dir, shortSide: 128 });
  net.dispose();
  assert.ok(existsSync(join(dir, 'car-shadow', '00003.png')));

  assert.throws(() => davisSequences(davis, { year: '2016', sequences: ['nope'] }), /'nope' is not in/);
  const bad = join(dir, 'bad.pth');
  writeFileSync(bad, 'not a checkpoint');
  const r = cli(['davis', '--checkpoint', bad, '--davis', davis, '--year', '2016', '--sequences', 'blackswan', '--out', join(dir, 'x')]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /bad\.pth/);
});

test('selfpatch-eval knn on Fashion-MNIST and visualize write real results', async (t) => {
  const fm = '/usr/share/datasets/fashion-mnist';
  if (!existsSync(fm)) {
    if (process.env.CI === 'true') throw new Error('Fashion-MNIST missing (apt-get install dataset-fashion-mnist)');
    return t.skip('Fashion-MNIST not installed');
  }
  await use('wasm');
  const dir = mkdtempSync(join(tmpdir(), 'selfpatch-eval-knn-'));
  const ckpt = fixedCheckpoint(dir);
  const r = cli(['knn', '--checkpoint', ckpt, '--fashion-mnist', '--train-limit', '600', '--test-limit', '200', '--image-size', '32', '--backend', 'wasm']);
  assert.equal(r.status, 0, r.stderr);
  // DINO's nb_knn (10, 20, 100, 200) in one pass by default.
  assert.deepEqual([...r.stdout.matchAll(/^(\d+)-NN: top-1/gm)].map((x) => Number(x[1])), [10, 20, 100, 200], r.stdout);
  const m = /top-1 ([\d.]+)%\s+top-5 ([\d.]+)%/.exec(r.stdout);
  assert.ok(m, r.stdout);
  const top1 = Number(m[1]);
  const top5 = Number(m[2]);
  // Random-init ViT features still carry the pixels: far above the 10% of chance, below perfect.
  assert.ok(top1 > 30 && top1 < 100, `top-1 ${top1}`);
  assert.ok(top5 >= top1);
  t.diagnostic(`Fashion-MNIST k-NN, seeded random ViT-Ti: ${r.stdout.trim()}`);

  const img = join(here, '..', '..', 'data', 'demo', 'photos');
  const { readdirSync } = await import('node:fs');
  const photo = join(img, readdirSync(img)[0] as string);
  const v = cli(['visualize', '--checkpoint', ckpt, '--image', photo, '--out', join(dir, 'vis'), '--size', '224', '--backend', 'wasm']);
  assert.equal(v.status, 0, v.stderr);
  for (const f of ['pca.png', 'pca-overlay.png', 'attn-head0.png', 'attn-head2.png', 'attn-mean.png']) assert.ok(existsSync(join(dir, 'vis', f)), f);
  const png = decode(readFileSync(join(dir, 'vis', 'attn-mean.png')));
  assert.equal(png.width, 224);
});
