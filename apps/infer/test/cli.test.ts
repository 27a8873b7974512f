import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { encode } from 'fast-png';
import { Rng } from '@selfpatch/nn';
import { parseSafetensors, serializeSafetensors } from '@selfpatch/checkpoint';
import { deeplyNestedPth } from '@selfpatch/nn/testing';
import { use } from '@selfpatch/backend/testing';
import { decodeMask, demoImagesDir, demoVideoDir } from '@selfpatch/data';
import { exportVitStateDict, VisionTransformer, vitConfig } from '@selfpatch/vit';

const here = dirname(fileURLToPath(import.meta.url));
const main = join(here, '..', 'src', 'main.ts');
const run = (args: string[]) => spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', main, ...args], { encoding: 'utf8', timeout: 300_000 });

async function checkpoint(dir: string): Promise<string> {
  await use('wasm');
  const vit = new VisionTransformer(vitConfig('vit_tiny', { depth: 2 }), { rng: new Rng(4) });
  const path = join(dir, 'vit.safetensors');
  writeFileSync(path, serializeSafetensors(exportVitStateDict(vit)));
  vit.dispose();
  return path;
}

test('selfpatch-infer features and attention on wasm', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'selfpatch-infer-'));
  const ckpt = await checkpoint(dir);
  const photo = join(demoImagesDir(), readdirSync(demoImagesDir()).sort()[1] as string);
  const f = run(['features', '--checkpoint', ckpt, '--image', photo, '--out', join(dir, 'f.safetensors'), '--size', '160']);
  assert.equal(f.status, 0, f.stderr);
  assert.match(f.stderr, /backend: wasm/);
  const st = parseSafetensors(readFileSync(join(dir, 'f.safetensors')));
  assert.deepEqual(st.tensors.get('features')?.shape, [100, 192]);
  assert.equal(st.metadata.grid_h, '10');
  assert.ok((st.tensors.get('features')?.data as Float32Array).every(Number.isFinite));
  const a = run(['attention', '--checkpoint', ckpt, '--image', photo, '--out', join(dir, 'att'), '--size', '160']);
  assert.equal(a.status, 0, a.stderr);
  assert.ok(existsSync(join(dir, 'att', 'attn-head2.png')) && existsSync(join(dir, 'att', 'pca.png')));
  const bad = run(['features', '--checkpoint', join(dir, 'missing.pth'), '--image', photo, '--out', join(dir, 'x')]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /missing\.pth/);
});

test('selfpatch-infer propagate over a folder of frames from a first-frame mask, scored against ground truth', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'selfpatch-infer-vos-'));
  const ckpt = await checkpoint(dir);
  const frames = readdirSync(demoVideoDir()).sort().slice(0, 4).map((f) => join(demoVideoDir(), f));
  const { width, height } = await sharp(frames[0] as string).metadata();
  const w = width as number;
  const h = height as number;
  // An indexed two-object mask (palette PNG), also used as "ground truth" for every frame.
  const labels = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) labels[y * w + x] = x < w / 3 ? 1 : x > (2 * w) / 3 && y > h / 2 ? 2 : 0;
  const palette: Array<[number, number, number]> = [
    [0, 0, 0],
    [128, 0, 0],
    [0, 128, 0],
  ];
  const gtDir = join(dir, 'gt');
  mkdirSync(gtDir);
  for (const f of frames) writeFileSync(join(gtDir, `${f.split('/').pop()?.replace(/\.\w+$/, '')}.png`), encode({ width: w, height: h, data: labels, depth: 8, channels: 1, palette }));
  const mask = join(gtDir, readdirSync(gtDir).sort()[0] as string);
  const r = run(['propagate', '--checkpoint', ckpt, '--frames', demoVideoDir(), '--mask', mask, '--gt', gtDir, '--out', join(dir, 'out0'), '--short-side', '128']);
  assert.equal(r.status, 2, 'ground truth folder must match every frame');
  assert.match(r.stderr, /missing ground-truth mask/);
  const sub = join(dir, 'frames');
  mkdirSync(sub);
  for (const f of frames) writeFileSync(join(sub, f.split('/').pop() as string), readFileSync(f));
  const ok = run(['propagate', '--checkpoint', ckpt, '--frames', sub, '--mask', mask, '--gt', gtDir, '--out', join(dir, 'out'), '--short-side', '128']);
  assert.equal(ok.status, 0, ok.stderr);
  // stderr is a pipe here: one progress line per step, no carriage returns.
  assert.ok(!ok.stderr.includes('\r'), `carriage return in piped progress: ${JSON.stringify(ok.stderr)}`);
  assert.match(ok.stderr, /^frame 4\/4$/m);
  const outs = readdirSync(join(dir, 'out')).filter((f) => f.endsWith('.png'));
  assert.equal(outs.length, 4);
  const last = decodeMask(readFileSync(join(dir, 'out', outs.sort().at(-1) as string)));
  assert.equal(last.width, w);
  assert.ok(last.labels.includes(1) && last.labels.includes(2), 'both objects propagated');
  const scores = JSON.parse(readFileSync(join(dir, 'out', 'scores.json'), 'utf8')) as Record<string, number>;
  assert.ok((scores['J-Mean'] as number) > 0 && (scores['J-Mean'] as number) <= 1);
  assert.match(ok.stdout, /frames_1 .*\n.*frames_2/);
});

test('hostile and absurd inputs: one line, exit 2, before any work (infer and eval alike)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'selfpatch-infer-bad-'));
  const deep = join(dir, 'deep.pth');
  writeFileSync(deep, deeplyNestedPth(100_000));
  const photo = join(demoImagesDir(), readdirSync(demoImagesDir()).sort()[1] as string);
  const evalMain = join(here, '..', '..', '..', 'packages', 'eval', 'src', 'node', 'main.ts');
  const runEval = (args: string[]) => spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', evalMain, ...args], { encoding: 'utf8', timeout: 300_000 });
  for (const r of [run(['features', '--checkpoint', deep, '--image', photo, '--out', join(dir, 'f.safetensors')]), runEval(['visualize', '--checkpoint', deep, '--image', photo, '--out', join(dir, 'v')])]) {
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /deep\.pth:archive\/data\.pkl: pickle nests containers more than 1000 deep/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.ok(r.stderr.length < 1500, r.stderr);
  }
  const big = run(['features', '--checkpoint', deep, '--image', photo, '--out', join(dir, 'f.safetensors'), '--size', '100000']);
  assert.equal(big.status, 2, big.stderr);
  assert.match(big.stderr, /invalid option '--size': expected an integer from 1 to 4096, got '100000'/);
  // Within the flag's range but beyond what this model's attention can allocate: refused by name.
  const ckpt = await checkpoint(dir);
  const wide = run(['attention', '--checkpoint', ckpt, '--image', photo, '--out', join(dir, 'a'), '--size', '4000']);
  assert.equal(wide.status, 2, wide.stderr);
  assert.match(wide.stderr, /invalid option '--size': 4000 is too large for this ViT \(patch 16\).*use at most \d+/);
  const missing = run(['features', '--checkpoint', join(dir, 'nope.pth'), '--image', photo, '--out', join(dir, 'f.safetensors')]);
  assert.equal(missing.status, 2, missing.stderr);
  assert.match(missing.stderr, /nope\.pth: cannot read file/);
});

test('selfpatch-infer web serves a build of the app cross-origin isolated, stops on SIGTERM, and names a missing build', async () => {
  const { spawn } = await import('node:child_process');
  const site = mkdtempSync(join(tmpdir(), 'selfpatch-web-'));
  writeFileSync(join(site, 'index.html'), '<!doctype html><title>selfpatch</title>');
  writeFileSync(join(site, 'app.wasm'), new Uint8Array([0, 97, 115, 109]));
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', main, 'web', '--root', site, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((ok, fail) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /web app: (http:\/\/\S+)/.exec(out);
      if (m) ok(m[1] as string);
    });
    child.on('exit', (code) => fail(new Error(`web exited early (${code})`)));
  });
  const page = await fetch(url);
  assert.equal(page.status, 200);
  assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin');
  assert.equal(page.headers.get('cross-origin-embedder-policy'), 'require-corp');
  assert.match(await page.text(), /<title>selfpatch<\/title>/);
  const wasm = await fetch(new URL('app.wasm', url));
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  assert.equal((await fetch(new URL('missing.js', url))).status, 404);
  const code = await new Promise<number | null>((ok) => {
    child.on('exit', ok);
    child.kill('SIGTERM');
  });
  assert.equal(code, 0);
  const none = run(['web', '--root', join(site, 'nope'), '--port', '0']);
  assert.equal(none.status, 2, none.stderr);
  assert.match(none.stderr, /--root.*holds no index\.html/);
});
