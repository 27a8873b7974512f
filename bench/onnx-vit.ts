/**
 * Benchmark (not a test): ViT-S/16 forward at 224 px, batch 1, in Node on WebAssembly — selfpatch-ts
 * on tfjs-backend-wasm against onnxruntime-web (wasm, SIMD) running the same network with the same
 * weights, exported once to ONNX by bench/py/export_vit_onnx.py (Debian python3-torch). Both on
 * 1 thread; rounds interleaved, medians reported; outputs compared as a sanity check.
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
import { initBackend } from '@selfpatch/nn/runtime';
import { Rng } from '@selfpatch/nn';
import { serializePth } from '@selfpatch/nn/io';
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
  for (let i = 0; i < perRound; i++) tf.tidy(() => (vit.forward(x) as tf.Tensor).dataSync());
  return (performance.now() - t0) / perRound;
}
timeTfjs();
await timeOrt();
const tfjsMs: number[] = [];
const ortMs: number[] = [];
for (let r = 0; r < rounds; r++) {
  tfjsMs.push(timeTfjs());
  ortMs.push(await timeOrt());
}
const median = (v: number[]) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)] as number;
const t = median(tfjsMs);
const o = median(ortMs);
const lines = [
  `ViT-S/16 forward, 224 px, batch 1, Node ${process.version}, 1 thread each, median of ${rounds} interleaved rounds × ${perRound} runs (outputs agree to ${maxDiff.toExponential(1)})`,
  '',
  '| runtime | ms | ratio to onnxruntime-web |',
  '|---|---|---|',
  `| selfpatch-ts on tfjs-backend-wasm | ${t.toFixed(1)} | ${(t / o).toFixed(2)}× |`,
  `| onnxruntime-web ${ort.env.versions.web ?? ''} (wasm, SIMD) | ${o.toFixed(1)} | 1.00× |`,
];
console.log(lines.join('\n'));
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'onnx-vit.json'), JSON.stringify({ date: new Date().toISOString(), tfjs_ms: tfjsMs, ort_ms: ortMs, ratio: t / o, max_diff: maxDiff }, null, 2));
writeFileSync(join(here, 'results', 'onnx-vit.md'), `${lines.join('\n')}\n`);
x.dispose();
process.exit(0);
