/**
 * The browser app in a real browser (`npm run test:e2e`): Vite builds web/, a local server serves
 * it cross-origin isolated with a seeded ViT-Ti/16 checkpoint, and Debian Chromium (driven by
 * playwright-core, no browser download) loads the model from `?model=`, computes attention maps
 * for a real photo and propagates a real DAVIS mask over 6 frames. The page's numbers must equal
 * the Node side's on the same input: attention maps from the same library call, and the J&F of
 * `selfpatch-infer propagate`. A screenshot is kept in apps/infer/test-results/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { build } from 'vite';
import { chromium, type Page } from 'playwright-core';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@selfpatch/nn';
import { serializeSafetensors } from '@selfpatch/checkpoint';
import { use } from '@selfpatch/backend/testing';
import { decodeImage, demoImagesDir, pilResize, toNormalizedCHW } from '@selfpatch/data';
import { attentionMaps, loadBackbone } from '@selfpatch/eval';
import { exportVitStateDict, VisionTransformer, vitConfig } from '@selfpatch/vit';
import { serveWebApp } from '../src/web-server.js';

const here = dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.SELFPATCH_CHROMIUM ?? '/usr/bin/chromium';
const davis = resolve(process.env.SELFPATCH_DAVIS_DIR ?? join(here, '../../../../shared/data/davis2016-sample/DAVIS'));
const FRAMES = 6;
const SHORT = 192;

/** Waits until the page's `window.selfpatch[field]` is set, or its error is. */
function settled(page: Page, field: 'model' | 'attention' | 'propagation', timeout: number): Promise<unknown> {
  return page.waitForFunction(
    (f) => {
      const s = (window as unknown as { selfpatch: Record<string, unknown> }).selfpatch;
      return s[f] !== null || s.error !== null;
    },
    field,
    { timeout },
  );
}

test('browser app: model from URL, attention maps and mask propagation match the Node results', async (t) => {
  for (const [what, path] of [
    ['Chromium (apt-get install chromium)', CHROMIUM],
    ['DAVIS sample (SELFPATCH_DAVIS_DIR)', davis],
  ] as const) {
    if (!existsSync(path)) {
      if (process.env.CI === 'true') throw new Error(`${what} missing at ${path}`);
      return t.skip(`${what} not found`);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'selfpatch-infer-e2e-'));
  const site = join(dir, 'site');
  await build({ root: join(here, '..', 'web'), configFile: join(here, '..', 'web', 'vite.config.ts'), logLevel: 'warn', build: { outDir: site, emptyOutDir: true } });

  // Inputs: a seeded checkpoint, a demo photo, 6 car-shadow frames as lossless PNGs + GT masks.
  await use('wasm');
  const vit = new VisionTransformer(vitConfig('vit_tiny'), { rng: new Rng(2022) });
  const ckpt = serializeSafetensors(exportVitStateDict(vit));
  vit.dispose();
  writeFileSync(join(site, 'model.safetensors'), ckpt);
  const photo = join(demoImagesDir(), readdirSync(demoImagesDir()).sort()[0] as string);
  const frameDir = join(dir, 'frames');
  const gtDir = join(dir, 'gt');
  mkdirSync(frameDir);
  mkdirSync(gtDir);
  const seq = join(davis, 'JPEGImages', '480p', 'car-shadow');
  const names = readdirSync(seq).sort().slice(0, FRAMES);
  for (const n of names) {
    const stem = n.replace(/\.jpg$/, '');
    await sharp(join(seq, n)).png().toFile(join(frameDir, `${stem}.png`));
    copyFileSync(join(davis, 'Annotations', '480p', 'car-shadow', `${stem}.png`), join(gtDir, `${stem}.png`));
  }
  const frames = readdirSync(frameDir).sort().map((f) => join(frameDir, f));
  const gts = readdirSync(gtDir).sort().map((f) => join(gtDir, f));

  // Node reference: the CLI's J&F, and the attention maps from the same library call the worker makes.
  const cli = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', join(here, '..', 'src', 'main.ts'), 'propagate', '--checkpoint', join(site, 'model.safetensors'), '--frames', frameDir, '--mask', gts[0] as string, '--gt', gtDir, '--short-side', String(SHORT), '--out', join(dir, 'node-out')], { encoding: 'utf8' });
  assert.equal(cli.status, 0, cli.stderr);
  const nodeScores = JSON.parse(readFileSync(join(dir, 'node-out', 'scores.json'), 'utf8')) as Record<string, number>;
  const net = loadBackbone(ckpt, 'model.safetensors');
  const img = await decodeImage(photo);
  const x = tf.tensor4d(toNormalizedCHW(pilResize(img, 224, 224, 'bicubic')), [1, 3, 224, 224]);
  const attn = net.attention(x);
  const nodeMaps = attentionMaps(attn, { h: 14, w: 14 }, false);
  tf.dispose([x, attn]);
  net.dispose();

  // The server `selfpatch-infer web` runs, on this build.
  const { server, url: siteUrl } = await serveWebApp({ root: site, port: 0 });
  const port = Number(new URL(siteUrl).port);
  // playwright's launch() always starts from a fresh temporary profile (a fresh user-data dir).
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1400 } });
    const logs: string[] = [];
    page.on('console', (m) => logs.push(m.text()));
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    await page.goto(`http://127.0.0.1:${port}/?model=/model.safetensors`);
    type State = { model: { description: string; backend: string; threads: number; backendNote?: string } | null; attention: { heads: Record<string, number>[]; h: number; w: number } | null; propagation: { scores: Record<string, number> | null; labels: unknown[]; msPerFrame: number } | null; error: string | null };
    const stateOf = () => page.evaluate(() => (window as unknown as { selfpatch: unknown }).selfpatch) as Promise<State>;
    await settled(page, 'model', 120_000);
    const s0 = await stateOf();
    assert.equal(s0.error, null, `${s0.error} ${logs.join('\n')}`);
    assert.match(s0.model?.description ?? '', /ViT \(selfpatch layout, width 192/);
    assert.equal(s0.model?.backend, 'wasm');
    t.diagnostic(`page: ${s0.model?.description}, ${s0.model?.threads} thread(s), crossOriginIsolated ${await page.evaluate(() => crossOriginIsolated)}`);

    await page.fill('#image-size', '224');
    await page.setInputFiles('#image', photo);
    await settled(page, 'attention', 120_000);
    const s1 = await stateOf();
    assert.equal(s1.error, null, s1.error ?? '');
    assert.equal(s1.attention?.heads.length, 3);
    /** Largest |page − Node| over every head's attention map. */
    const mapDiff = (st: State): number => {
      let m = 0;
      st.attention?.heads.forEach((hm, i) => {
        const ref = nodeMaps.heads[i] as Float32Array;
        for (let p = 0; p < ref.length; p++) m = Math.max(m, Math.abs((hm[String(p)] as number) - (ref[p] as number)));
      });
      return m;
    };
    const maxDiff = mapDiff(s1);
    t.diagnostic(`attention maps, page vs Node: max |Δ| ${maxDiff.toExponential(2)}`);
    assert.ok(maxDiff < 1e-4, `attention maps differ by ${maxDiff}`);

    await page.fill('#short-side', String(SHORT));
    await page.setInputFiles('#frames', frames);
    await page.setInputFiles('#mask', gts[0] as string);
    await page.setInputFiles('#gt', gts);
    await page.click('#propagate');
    await settled(page, 'propagation', 300_000);
    const s2 = await stateOf();
    assert.equal(s2.error, null, s2.error ?? '');
    assert.equal(s2.propagation?.labels.length, FRAMES);
    const pageScores = s2.propagation?.scores as Record<string, number>;
    t.diagnostic(`J&F page ${pageScores['J&F-Mean']?.toFixed(6)} vs Node CLI ${nodeScores['J&F-Mean']?.toFixed(6)}; ${s2.propagation?.msPerFrame.toFixed(0)} ms/frame in the page`);
    for (const k of Object.keys(nodeScores)) assert.ok(Math.abs((pageScores[k] as number) - (nodeScores[k] as number)) < 1e-6, `${k}: page ${pageScores[k]} vs Node ${nodeScores[k]}`);
    assert.ok((nodeScores['J&F-Mean'] as number) > 0.05, 'a real score');
    assert.match(await page.textContent('#scores') ?? '', /J&F-Mean/);

    // `?threads=2`: the worker gets 2 XNNPACK threads despite tfjs's half-the-cores cap, with the
    // same attention maps.
    const page2 = await browser.newPage();
    page2.on('pageerror', (e) => logs.push(`pageerror (threads=2): ${e.message}`));
    await page2.goto(`http://127.0.0.1:${port}/?model=/model.safetensors&threads=2`);
    await settled(page2, 'model', 120_000);
    const m2 = (await page2.evaluate(() => (window as unknown as { selfpatch: unknown }).selfpatch)) as State;
    assert.equal(m2.error, null, `${m2.error} ${logs.join('\n')}`);
    assert.equal(m2.model?.threads, 2, 'threads=2 in a cross-origin isolated page');
    await page2.fill('#image-size', '224');
    await page2.setInputFiles('#image', photo);
    await settled(page2, 'attention', 120_000);
    const a2 = (await page2.evaluate(() => (window as unknown as { selfpatch: unknown }).selfpatch)) as State;
    assert.equal(a2.error, null, a2.error ?? '');
    const maxDiff2 = mapDiff(a2);
    t.diagnostic(`threads=2 page: ${m2.model?.threads} threads, attention max |Δ| vs Node ${maxDiff2.toExponential(2)}`);
    assert.ok(maxDiff2 < 1e-4, `attention maps with 2 threads differ by ${maxDiff2}`);
    await page2.close();

    // WebGPU: Chromium with WebGPU on SwiftShader (a software adapter). `auto` must not take it
    // (the page says why and runs wasm); `?backend=webgpu` takes it, says so, and gives the same maps.
    const gpuBrowser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=swiftshader', '--use-webgpu-adapter=swiftshader', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    });
    try {
      for (const request of ['auto', 'webgpu'] as const) {
        const pg = await gpuBrowser.newPage();
        pg.on('pageerror', (e) => logs.push(`pageerror (${request}): ${e.message}`));
        await pg.goto(`http://127.0.0.1:${port}/?model=/model.safetensors${request === 'webgpu' ? '&backend=webgpu' : ''}`);
        await settled(pg, 'model', 120_000);
        const m = (await pg.evaluate(() => (window as unknown as { selfpatch: unknown }).selfpatch)) as State & { model: { backendNote: string } | null };
        assert.equal(m.error, null, `${m.error} ${logs.join('\n')}`);
        const shown = (await pg.textContent('#backend')) ?? '';
        t.diagnostic(`${request} page in a WebGPU-enabled Chromium: ${shown}`);
        if (request === 'auto') {
          assert.equal(m.model?.backend, 'wasm', 'auto never takes a software adapter');
          assert.match(m.model?.backendNote ?? '', /no WebGPU hardware adapter \(only the software adapter/);
          await pg.close();
          continue;
        }
        assert.equal(m.model?.backend, 'webgpu');
        assert.match(shown, /backend webgpu on .*swiftshader.*software adapter.*mask propagation runs on WebAssembly/i);
        await pg.fill('#image-size', '224');
        await pg.setInputFiles('#image', photo);
        await settled(pg, 'attention', 300_000);
        const a = (await pg.evaluate(() => (window as unknown as { selfpatch: unknown }).selfpatch)) as State;
        assert.equal(a.error, null, a.error ?? '');
        const d = mapDiff(a);
        t.diagnostic(`webgpu page: attention max |Δ| vs Node ${d.toExponential(2)}`);
        assert.ok(d < 1e-4, `attention maps on WebGPU differ by ${d}`);
        await pg.fill('#short-side', String(SHORT));
        await pg.setInputFiles('#frames', frames);
        await pg.setInputFiles('#mask', gts[0] as string);
        await pg.setInputFiles('#gt', gts);
        await pg.click('#propagate');
        await settled(pg, 'propagation', 600_000);
        const pr = (await pg.evaluate(() => (window as unknown as { selfpatch: unknown }).selfpatch)) as State;
        assert.equal(pr.error, null, pr.error ?? '');
        const gpuScores = pr.propagation?.scores as Record<string, number>;
        t.diagnostic(`webgpu page: J&F ${gpuScores['J&F-Mean']?.toFixed(6)} vs Node ${nodeScores['J&F-Mean']?.toFixed(6)}, ${pr.propagation?.msPerFrame.toFixed(0)} ms/frame`);
        for (const k of Object.keys(nodeScores)) assert.ok(Math.abs((gpuScores[k] as number) - (nodeScores[k] as number)) < 1e-6, `${k} (propagation on wasm beside a software WebGPU adapter): page ${gpuScores[k]} vs Node ${nodeScores[k]}`);
        await pg.close();
      }
    } finally {
      await gpuBrowser.close();
    }

    const artifacts = join(here, '..', 'test-results');
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'e2e.png'), fullPage: true });
  } finally {
    await browser.close();
    server.close();
  }
});
