/**
 * Benchmark (not a test): ViT-S/16 forward at 224 px, batch 1 and 8, on WebAssembly in Node and in
 * a Chromium page — selfpatch-ts on tfjs-backend-wasm against onnxruntime-web (wasm, SIMD) running
 * the same network with the same weights, exported once to ONNX (dynamic batch) by
 * bench/py/export_vit_onnx.py (Debian python3-torch). 1 thread each; rounds interleaved; ratios per
 * round, reported min-median-max, refused when either side's rounds spread over 25% (sanity.ts);
 * outputs compared as a sanity check. Results are kept per host (bench/results/hosts/<cpu>/).
 * The page part needs Debian's chromium (reported as not measured when absent).
 *
 *   node --conditions=source --import tsx bench/onnx-vit.ts       (BENCH_ONNX_ROUNDS=3 BENCH_ONNX_BATCHES=1,8)
 *
 * Our kernels run the build the runtime picks (relaxed SIMD in Chromium and Node 22+; on Node 20,
 * `node --experimental-wasm-relaxed-simd` gives it); each row names the build it ran.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-web';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { serializePth, serializeSafetensors } from '@selfpatch/checkpoint';
import { initBackend, simdKernelBuild } from '@selfpatch/backend';
import { Rng } from '@selfpatch/nn';
import { maxAbsDiff } from '@selfpatch/nn/testing';
import { exportVitStateDict, VisionTransformer, vitConfig } from '@selfpatch/vit';
import { interleaved, median, onnxRunsPerRound } from './stats.js';
import { hostDescription, roundsCheck } from './sanity.js';

const here = dirname(fileURLToPath(import.meta.url));
const python = process.env.SELFPATCH_PYTHON ?? '/usr/bin/python3';
const rounds = Number(process.env.BENCH_ONNX_ROUNDS ?? 3);
const batches = (process.env.BENCH_ONNX_BATCHES ?? '1,8').split(',').map(Number);
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
const inputFor = (batch: number): Float32Array => Float32Array.from({ length: batch * 3 * size * size }, (_, i) => Math.sin(i * 0.001));

/** One batch size in Node: output check, then interleaved rounds. */
async function inNode(batch: number): Promise<{ tfjsMs: number[]; ortMs: number[]; maxDiff: number }> {
  const input = inputFor(batch);
  const feeds = { image: new ort.Tensor('float32', input, [batch, 3, size, size]) };
  const x = tf.tensor4d(input, [batch, 3, size, size]);
  // Sanity: same network, same weights → same tokens.
  const a = tf.tidy(() => (vit.forward(x) as tf.Tensor).dataSync());
  const b = ((await session.run(feeds)).tokens as ort.Tensor).data as Float32Array;
  const maxDiff = maxAbsDiff(a, b);
  if (maxDiff > 1e-2) throw new Error(`ONNX and tfjs outputs differ by ${maxDiff}: not the same network`);
  const runs = onnxRunsPerRound(batch);
  const timeOrt = async (): Promise<number> => {
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) await session.run(feeds);
    return (performance.now() - t0) / runs;
  };
  const timeTfjs = (): number => {
    const t0 = performance.now();
    // tidy returns nothing: a returned TypedArray would be walked element by element (docs/tfjs-backends.md §3).
    for (let i = 0; i < runs; i++) tf.tidy(() => void (vit.forward(x) as tf.Tensor).dataSync());
    return (performance.now() - t0) / runs;
  };
  const { a: tfjsMs, b: ortMs } = await interleaved(timeTfjs, timeOrt, rounds);
  x.dispose();
  return { tfjsMs, ortMs, maxDiff };
}

/** The build of our kernels the page ran. */
let pageKernels = '';

/** The same comparison inside Chromium (headless, 1 thread each). */
async function inPage(): Promise<Record<string, { tfjsMs: number[]; ortMs: number[]; maxDiff: number }> | string> {
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
    await page.goto(`http://127.0.0.1:${(server.address() as { port: number }).port}/?rounds=${rounds}&batches=${batches.join(',')}`);
    await page.waitForFunction(() => (window as unknown as { bench?: unknown }).bench !== undefined, undefined, { timeout: 600_000 });
    const r = (await page.evaluate(() => (window as unknown as { bench: unknown }).bench)) as { error?: string; kernels?: string; byBatch: Record<string, { tfjsMs: number[]; ortMs: number[]; maxDiff: number }> };
    pageKernels = r.kernels ?? '';
    return r.error ?? r.byBatch;
  } finally {
    await browser.close();
    server.close();
  }
}
const node: Record<string, { tfjsMs: number[]; ortMs: number[]; maxDiff: number }> = {};
for (const batch of batches) node[batch] = await inNode(batch);
const page = await inPage();
const host = hostDescription();

/** A table row: median ms each side and the per-round ratio min-median-max, or why it is refused. */
function row(where: string, batch: number, r: { tfjsMs: number[]; ortMs: number[]; maxDiff: number }): string {
  const refused = roundsCheck('selfpatch-ts', r.tfjsMs) ?? roundsCheck('onnxruntime-web', r.ortMs);
  const ratios = r.tfjsMs.map((t, i) => t / (r.ortMs[i] as number));
  const ratio = refused ? `refused: ${refused}` : `**${median(ratios).toFixed(2)}×** [${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}]`;
  return `| ${where} | ${batch} | ${median(r.tfjsMs).toFixed(1)} | ${median(r.ortMs).toFixed(1)} | ${ratio} | ${r.maxDiff.toExponential(1)} |`;
}
const lines = [
  `ViT-S/16 forward at 224 px, 1 thread each: selfpatch-ts on tfjs-backend-wasm against onnxruntime-web ${ort.env.versions.web ?? ''} (wasm, SIMD) on the same weights; ${rounds} interleaved rounds (${batches.map((b) => `${onnxRunsPerRound(b)} run(s) per round at batch ${b}`).join(', ')}); ratio = ours ÷ theirs per round, median [min–max].`,
  '',
  `Host: ${host.model}, ${host.cores} logical cores, flags ${host.flags.join(' ')}.`,
  '',
  '| where | batch | selfpatch-ts ms | onnxruntime-web ms | ratio | max abs diff |',
  '|---|---|---|---|---|---|',
  ...batches.map((b) => row(`Node ${process.version} (${simdKernelBuild()})`, b, node[b] as { tfjsMs: number[]; ortMs: number[]; maxDiff: number })),
  ...(typeof page === 'string' ? [`| Chromium | | | | not measured: ${page} | |`] : batches.map((b) => row(`Chromium (headless, ${pageKernels})`, b, page[b] as { tfjsMs: number[]; ortMs: number[]; maxDiff: number }))),
];
console.log(lines.join('\n'));
const json = JSON.stringify({ date: new Date().toISOString(), host, rounds, batches, kernels: { node: simdKernelBuild(), page: pageKernels }, node, page }, null, 2);
for (const outDir of [join(here, 'results'), join(here, 'results', 'hosts', host.slug)]) {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'onnx-vit.json'), json);
  writeFileSync(join(outDir, 'onnx-vit.md'), `${lines.join('\n')}\n`);
}
process.exit(0);
