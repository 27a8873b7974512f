/**
 * `npm run bench:gpu`: the suite's ViT-Ti/16 forward and DINO+SelfPatch step on whatever hardware
 * backend this machine has (`auto`: tfjs-node-gpu / tfjs-node, or WebGPU on a hardware adapter),
 * next to wasm on the same machine, in one command. Refuses (exit 2) when only wasm or cpu is
 * available, so a number from a machine without a GPU is never mistaken for a GPU number.
 *
 *   BENCH_GPU_BATCH (8)  BENCH_GPU_REPEATS (3)
 */
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProc, type Json } from './twin.js';

const here = dirname(fileURLToPath(import.meta.url));
const batch = process.env.BENCH_GPU_BATCH ?? '8';
const repeats = process.env.BENCH_GPU_REPEATS ?? '3';

const child = (backend: string, args: string[]): Json =>
  runProc(process.execPath, ['--conditions=source', '--import', 'tsx', join(here, 'suite-child.ts'), '1', ...args], { BENCH_BACKEND: backend, TF_CPP_MIN_LOG_LEVEL: '2' });

const cases: Array<{ label: string; args: string[] }> = [
  { label: `ViT-Ti/16 forward, b${batch} 224`, args: ['forward', 'vit_tiny', batch, '224', repeats] },
  { label: `ViT-Ti/16 DINO+SelfPatch step, b${batch}, 2×224, heads 65536/4096`, args: ['step', 'vit_tiny', batch, '0', repeats, '4', '65536', '4096'] },
];

const probe = child('auto', ['matmul', '1024', '10']);
if (typeof probe.ms !== 'number' || probe.on_gpu !== true) {
  const why = typeof probe.ms === 'number' ? `auto chose ${String(probe.backend)}: ${String(probe.reason)}` : String(probe.error ?? 'unknown');
  console.error(`bench:gpu: no GPU backend on this machine (${why}); nothing to measure`);
  process.exit(2);
}
console.log(`host: ${cpus()[0]?.model ?? '?'} (${cpus().length} cores); GPU backend: ${String(probe.backend)} (${String(probe.reason)}); 1024³ matMul ${(probe.gflops as number).toFixed(1)} GFLOP/s`);
console.log('| case | GPU backend ms | wasm ms | speed-up |');
console.log('|---|---|---|---|');
for (const c of cases) {
  const g = child('auto', c.args);
  const w = child('wasm', c.args);
  const gm = g.ms as number | undefined;
  const wm = w.ms as number | undefined;
  console.log(`| ${c.label} | ${gm?.toFixed(0) ?? String(g.error)} | ${wm?.toFixed(0) ?? String(w.error)} | ${gm && wm ? (wm / gm).toFixed(2) : '–'}× |`);
}
