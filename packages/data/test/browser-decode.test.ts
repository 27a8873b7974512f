/**
 * The browser decoding path in a real browser: Debian Chromium, headless, driven by playwright-core
 * (no browser download). The page runs the bundled `decode.browser.ts`; results are compared with
 * the Node decoder on the same files, and the multi-crop recipe (its wasm kernels) with Node's. Under
 * CI=true a missing Chromium is a failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import sharp from 'sharp';
import { chromium } from 'playwright-core';
import { Rng } from '@selfpatch/nn/base';
import { decodeImage, multiCrop } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.SELFPATCH_CHROMIUM ?? '/usr/bin/chromium';
const davis = resolve(process.env.SELFPATCH_DAVIS_DIR ?? join(here, '../../../../shared/data/davis2016-sample/DAVIS'));

test('browser decodeImage in headless Chromium matches the Node decoder; bad input gives ImageDecodeError', async (t) => {
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI === 'true') throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium)`);
    return t.skip('apt-get install chromium');
  }
  const out = mkdtempSync(join(tmpdir(), 'browser-decode-'));
  await build({ entryPoints: [join(here, 'browser/entry.ts')], bundle: true, format: 'iife', platform: 'browser', conditions: ['source', 'browser'], outfile: join(out, 'bundle.js'), logLevel: 'warning' });
  const bundle = readFileSync(join(out, 'bundle.js'));
  const server = createServer((req, res) => {
    if (req.url === '/bundle.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><script src="/bundle.js"></script>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    const decodeIn = (bytes: Uint8Array, name: string) =>
      page.evaluate(([b64, n]) => globalThis.decodeForTest(b64 as string, n as string), [Buffer.from(bytes).toString('base64'), name]);
    // Opaque PNG: lossless, so both decoders must agree exactly.
    const w = 37;
    const h = 23;
    const rgb = Buffer.alloc(w * h * 3);
    for (let i = 0; i < w * h; i++) rgb.set([(i * 7) & 255, (i * 13) & 255, (i * 29) & 255], i * 3);
    const png = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
    const got = (await decodeIn(png, 'a.png')) as { width: number; height: number; data: number[] };
    assert.deepEqual([got.width, got.height], [w, h]);
    assert.deepEqual(got.data, Array.from((await decodeImage(png)).data));
    // With alpha, a canvas keeps premultiplied values: RGB is exact where the pixel is opaque.
    const rgba = Buffer.alloc(w * h * 4);
    for (let i = 0; i < w * h; i++) rgba.set([(i * 7) & 255, (i * 13) & 255, (i * 29) & 255, i % 2 ? 255 : (i * 3) & 255], i * 4);
    const apng = await sharp(rgba, { raw: { width: w, height: h, channels: 4 } }).png().toBuffer();
    const ga = (await decodeIn(apng, 'alpha.png')) as { data: number[] };
    const ra = await decodeImage(apng);
    for (let i = 1; i < w * h; i += 2) for (let c = 0; c < 3; c++) assert.equal(ga.data[3 * i + c], ra.data[3 * i + c], `opaque pixel ${i}`);
    // EXIF orientation is applied by the browser too.
    const rotated = await sharp(Buffer.alloc(60 * 30 * 3, 128), { raw: { width: 60, height: 30, channels: 3 } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const rot = (await decodeIn(rotated, 'r.jpg')) as { width: number; height: number };
    assert.deepEqual([rot.width, rot.height], [30, 60]);
    // A real JPEG: both use libjpeg-turbo-family decoders; the difference is measured and small.
    if (existsSync(davis)) {
      const f = join(davis, 'JPEGImages', '480p', 'blackswan', '00000.jpg');
      const jb = readFileSync(f);
      const gj = (await decodeIn(jb, f)) as { width: number; height: number; data: number[] };
      const rj = await decodeImage(jb);
      let max = 0;
      let sum = 0;
      gj.data.forEach((v, i) => {
        const d = Math.abs(v - (rj.data[i] as number));
        max = Math.max(max, d);
        sum += d;
      });
      t.diagnostic(`DAVIS JPEG, Chromium vs sharp: max ${max}, mean ${(sum / gj.data.length).toFixed(4)}`);
      assert.ok(max <= 8 && sum / gj.data.length < 1);
    }
    // The multi-crop recipe in the page equals Node's bit for bit (same wasm kernels, compiled
    // synchronously on the main thread).
    const src = { width: 160, height: 120, data: new Uint8Array(160 * 120 * 3) };
    src.data.forEach((_, i) => (src.data[i] = (i * 37 + ((i / 480) | 0) * 11) & 255));
    const seed = 7;
    const pageViews = await page.evaluate(([b64, sw, sh, sd]) => globalThis.multiCropForTest(b64 as string, sw as number, sh as number, sd as number), [Buffer.from(src.data).toString('base64'), src.width, src.height, seed] as const);
    const nodeViews = multiCrop(src, new Rng(seed));
    assert.equal(pageViews.length, nodeViews.length);
    nodeViews.forEach((v, i) => assert.deepEqual(pageViews[i], Array.from(v.data), `view ${i}`));
    const bad = (await decodeIn(new TextEncoder().encode('not an image'), 'notes.jpg')) as { error: string; name: string };
    assert.equal(bad.name, 'ImageDecodeError');
    assert.match(bad.error, /notes\.jpg/);
    const empty = (await decodeIn(new Uint8Array(0), 'empty.png')) as { error: string };
    assert.match(empty.error, /empty\.png: .*empty file/);
  } finally {
    await browser.close();
    server.close();
  }
});
