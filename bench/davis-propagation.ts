/**
 * Benchmark (not a test): DAVIS label propagation at the official 480×832 frame size on wasm —
 * per frame: ViT features + label propagation from the first frame and a queue of 7 (8 contexts,
 * 30×52 patches, 12-patch neighbourhood, top-5) + bilinear ×16 upsampling, norm_mask, argmax —
 * for ViT-Ti/16 and ViT-S/16, against the same loop in PyTorch CPU (Debian python3-torch, the
 * official `label_propagation` code, 1 thread, OMP_WAIT_POLICY=PASSIVE) measured in the same run.
 * Random frames and weights: the cost does not depend on them. Steady state: the median of the
 * last frames, once the queue is full.
 *
 *   node --conditions=source --import tsx bench/davis-propagation.ts   (BENCH_DAVIS_FRAMES=12)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@selfpatch/backend';
import { Rng } from '@selfpatch/nn';
import { VisionTransformer, vitConfig } from '@selfpatch/vit';
import { VideoPropagator, oneHotLabels } from '@selfpatch/eval';

const here = dirname(fileURLToPath(import.meta.url));
const python = process.env.SELFPATCH_PYTHON ?? '/usr/bin/python3';
const frames = Number(process.env.BENCH_DAVIS_FRAMES ?? 12);
const timed = 3;
const H = 480;
const W = 832;

await initBackend('wasm');

function ours(arch: 'vit_tiny' | 'vit_small'): number {
  const vit = new VisionTransformer(vitConfig(arch), { rng: new Rng(0) });
  vit.eval();
  const { h, w } = vit.gridFor(H, W);
  const rand = () => tf.randomNormal([1, 3, H, W], 0, 1, 'float32', 1) as tf.Tensor4D;
  const feats = (x: tf.Tensor4D) => tf.tidy(() => tf.reshape((vit.getIntermediateLayers(x, 1) as [tf.Tensor3D])[0], [h * w, -1]) as tf.Tensor2D);
  const x0 = rand();
  const f0 = feats(x0);
  const seg = oneHotLabels(Uint8Array.from({ length: h * w }, (_, i) => (Math.floor(i / w) < h / 2 && i % w < w / 2 ? 1 : 0)), h, w);
  const prop = new VideoPropagator(f0, seg, { h, w }, { patchSize: 16 });
  tf.dispose([x0, f0, seg]);
  const times: number[] = [];
  for (let t = 1; t < frames; t++) {
    const x = rand();
    const t0 = performance.now();
    const f = feats(x);
    const labels = prop.step(f);
    labels.dataSync();
    const ms = performance.now() - t0;
    tf.dispose([x, f, labels]);
    if (t >= frames - timed) times.push(ms);
  }
  prop.dispose();
  vit.dispose();
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

function torch(embed: number, heads: number): number {
  const r = spawnSync(python, [join(here, 'py/davis_propagation.py'), String(embed), '12', String(heads), String(frames), String(timed), '1'], {
    encoding: 'utf8',
    env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE', OPENBLAS_NUM_THREADS: '1' },
  });
  if (r.status !== 0) throw new Error(`torch baseline failed: ${r.stderr}`);
  return (JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as { ms_per_frame: number }).ms_per_frame;
}

const lines = [
  `DAVIS propagation at 480×832 (30×52 patches, 8 contexts), ${frames} frames, median of the last ${timed}; 1 thread each`,
  '',
  '| model | tfjs-wasm ms/frame | frames/s | PyTorch CPU ms/frame | frames/s | wasm / torch |',
  '|---|---|---|---|---|---|',
];
const results: Record<string, unknown> = {};
for (const [arch, embed, heads] of [['vit_tiny', 192, 3], ['vit_small', 384, 6]] as const) {
  const a = ours(arch);
  const b = torch(embed, heads);
  results[arch] = { wasm_ms: a, torch_ms: b, ratio: a / b };
  lines.push(`| ${arch}/16 | ${a.toFixed(0)} | ${(1000 / a).toFixed(3)} | ${b.toFixed(0)} | ${(1000 / b).toFixed(3)} | ${(a / b).toFixed(2)}× |`);
  console.error(lines.at(-1));
}
console.log(lines.join('\n'));
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'davis-propagation.json'), JSON.stringify({ date: new Date().toISOString(), frames, timed, results }, null, 2));
writeFileSync(join(here, 'results', 'davis-propagation.md'), `${lines.join('\n')}\n`);
process.exit(0);
