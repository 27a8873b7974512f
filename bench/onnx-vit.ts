/**
 * Benchmark (not a test): ViT-S/16 forward at 224 px, batch 1, on WebAssembly in Node and in a
 * Chromium page — selfpatch-ts on tfjs-backend-wasm against onnxruntime-web (wasm, SIMD) running
 * the same network with the same weights, exported once to ONNX by bench/py/export_vit_onnx.py
 * (Debian python3-torch). 1 thread each; rounds interleaved, medians reported; outputs compared as
 * a sanity check. The page part needs Debian's chromium (skipped with a note when absent).
 *
 *   node --conditions=source --import tsx bench/onnx-vit.ts       (BENCH_ONNX_ROUNDS=5)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-web';
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { build } from 'esbuild';
import { interleaved, median } from './stats.js';
import { chromium } from 'playwright-core';
import { serializeSafetensors } from '@selfpatch/checkpoint';
import { initBackend } from '@selfpatch/backend';
import { Rng } from '@selfpatch/nn';
import { serializePth } from '@selfpatch/checkpoint';
import { exportVitStateDict, VisionTransformer, vitConfig } from '@selfpatch/vit';

const here = dirname(fileURLToPath(import.meta.url));
const python = process.env.SELFPATCH_PYTHON ?? '/usr/bin/python3';
const rounds = Number(process.env.BENCH_ONNX_ROUNDS ?? 5);
const perRound = 5;
const size = 224;

await initBackend('wasm');
const vit = new VisionTransformer(vitConfig('vit_small', { imgSize: size }), { rng: new Rng(0) });
vit.eval();
const dir = mkdtempSync(join(tmpdir(), 'bench-onnx-'));
const pth = join(dir, 'vit_small.pth');
writeFileSync(pth, serializePth(exportVitStateDict(vit)));
const onnxPath = join(dir, 'vit_small.onnx');
const ex = spawnSync(python, [join(here, 'py', 'export_vit_onnx.py'), pth, onnxPath, '6', String(size)], { encoding: 'utf8' });
if (ex.status !== 0) throw new Error(`ONNX export failed: ${ex.stderr}`);

ort.env.wasm.numThreads = 1;
ort.env.wasm.simd = true;
const session = await ort.InferenceSession.create(readFileSync(onnxPath), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
const input = Float32Array.from({ length: 3 * size * size }, (_, i) => Math.sin(i * 0.001));
const feeds = { image: new ort.Tensor('float32', input, [1, 3, size, size]) };

// Sanity: same network, same weights → same tokens.
const x = tf.tensor4d(input, [1, 3, size, size]);
const ours = vit.forward(x) as tf.Tensor3D;
const theirs = (await session.run(feeds)).tokens as ort.Tensor;
const a = ours.dataSync();
const b = theirs.data as Float32Array;
let maxDiff = 0;
for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs((a[i] as number) - (b[i] as number)));
ours.dispose();
if (maxDiff > 1e-2) throw new Error(`ONNX and tfjs outputs differ by ${maxDiff}: not the same network`);

async function timeOrt(): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < perRound; i++) await session.run(feeds);
  return (performance.now() - t0) / perRound;
}
function timeTfjs(): number {
  const t0 = performance.now();
  // tidy returns nothing: a returned TypedArray would be walked element by element (docs/tfjs-backends.md §3).
  for (let i = 0; i < perRound; i++) tf.tidy(() => void (vit.forward(x) as tf.Tensor).dataSync());
  return (performance.now() - t0) / perRound;
}
const { a: tfjsMs, b: ortMs } = await interleaved(timeTfjs, timeOrt, rounds);
const t = median(tfjsMs);
const o = median(ortMs);

/** The same comparison inside Chromium (headless, 1 thread each). */
async function inPage(): Promise<{ tfjsMs: number[]; ortMs: number[]; maxDiff: number } | string> {
  const CHROMIUM = process.env.SELFPATCH_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM}`;
  writeFileSync(join(dir, 'vit_small.safetensors'), serializeSafetensors(exportVitStateDict(vit)));
  await build({ entryPoints: [join(here, 'page', 'onnx-entry.ts')], bundle: true, format: 'esm', platform: 'browser', conditions: ['source', 'browser'], outfile: join(dir, 'entry.js'), logLevel: 'warning', external: ['/ort/*'] });
  const roots: Array<[string, string]> = [
    ['/ort/', join(here, '..', 'node_modules', 'onnxruntime-web', 'dist')],
    ['/tfjs/', join(here, '..', 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist')],
    ['/', dir],
  ];
  const types: Record<string, string> = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x').pathname;
    if (url === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><script type="module" src="/entry.js"></script>');
    const [prefix, root] = roots.find(([p]) => url.startsWith(p)) as [string, string];
    const file = join(root, url.slice(prefix.length));
    if (!existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as { port: number }).port}/?rounds=${rounds}`);
    await page.waitForFunction(() => (window as unknown as { bench?: unknown }).bench !== undefined, undefined, { timeout: 600_000 });
    const r = (await page.evaluate(() => (window as unknown as { bench: unknown }).bench)) as { tfjsMs: number[]; ortMs: number[]; maxDiff: number; error?: string };
    return r.error ?? r;
  } finally {
    await browser.close();
    server.close();
  }
}
const page = await inPage();
const lines = [
  `ViT-S/16 forward, 224 px, batch 1, 1 thread each, median of ${rounds} interleaved rounds × ${perRound} runs; outputs agree with ONNX to ${maxDiff.toExponential(1)} (Node)`,
  '',
  '| where | runtime | ms | ratio to onnxruntime-web |',
  '|---|---|---|---|',
  `| Node ${process.version} | selfpatch-ts on tfjs-backend-wasm | ${t.toFixed(1)} | ${(t / o).toFixed(2)}× |`,
  `| Node ${process.version} | onnxruntime-web ${ort.env.versions.web ?? ''} (wasm, SIMD) | ${o.toFixed(1)} | 1.00× |`,
];
if (typeof page === 'string') lines.push(`| Chromium | (not measured: ${page}) | | |`);
else {
  const pt = median(page.tfjsMs);
  const po = median(page.ortMs);
  lines.push(`| Chromium (headless) | selfpatch-ts on tfjs-backend-wasm | ${pt.toFixed(1)} | ${(pt / po).toFixed(2)}× |`, `| Chromium (headless) | onnxruntime-web (wasm, SIMD) | ${po.toFixed(1)} | 1.00× |`);
}
console.log(lines.join('\n'));
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'onnx-vit.json'), JSON.stringify({ date: new Date().toISOString(), node: { tfjs_ms: tfjsMs, ort_ms: ortMs, ratio: t / o, max_diff: maxDiff }, page }, null, 2));
writeFileSync(join(here, 'results', 'onnx-vit.md'), `${lines.join('\n')}\n`);
x.dispose();
process.exit(0);
