/**
 * Benchmark run (not a test): MoBY + SelfPatch on a small Swin, trained for a few dozen steps on
 * real video frames (the DAVIS-2016 sample in ../shared/data, or SELFPATCH_DAVIS_DIR), to check
 * that the composition trains: finite loss throughout, and the mean loss of the last steps below
 * that of the first. Baseline in the same run: the same steps with λ = 0 (plain MoBY), so the
 * patch term's own trend is visible.
 *
 *   node --conditions=source --import tsx bench/swin-selfpatch-train.ts   (BENCH_TRAIN_STEPS=40)
 *
 * Views: random resized crop (scale 0.3-1, ratio 3/4-4/3) to 112 px, horizontal flip, ImageNet
 * normalisation — a light stand-in for the MoBY augmentation until the data package lands.
 */
import { readdirSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@selfpatch/backend';
import { Rng } from '@selfpatch/nn';
import { SwinTransformer, swinTiny } from '@selfpatch/swin';
import { MoBYSelfPatch, MoBYTrainer, cosineSchedule } from '@selfpatch/ssl';

const here = dirname(fileURLToPath(import.meta.url));
const davis = resolve(process.env.SELFPATCH_DAVIS_DIR ?? join(here, '..', '..', 'shared', 'data', 'davis2016-sample', 'DAVIS'));
const frameDir = join(davis, 'JPEGImages', '480p');
if (!existsSync(frameDir)) throw new Error(`DAVIS frames not found at ${frameDir} (set SELFPATCH_DAVIS_DIR)`);
const steps = Number(process.env.BENCH_TRAIN_STEPS ?? 40);
const batch = 8;
const size = 112;

await initBackend('wasm');
const files = readdirSync(frameDir).flatMap((seq) => readdirSync(join(frameDir, seq)).filter((f) => f.endsWith('.jpg')).map((f) => join(frameDir, seq, f)));
// Decode once at a reduced size (short side 160) to keep the run about the model.
const frames = await Promise.all(
  files.map(async (f) => {
    const { data, info } = await sharp(f).resize({ height: 160 }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data), h: info.height, w: info.width };
  }),
);
console.error(`${frames.length} frames from ${frameDir}`);

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

function view(rng: Rng, f: { data: Uint8Array; h: number; w: number }): tf.Tensor3D {
  const area = f.h * f.w * rng.uniformRange(0.3, 1);
  const ratio = Math.exp(rng.uniformRange(Math.log(3 / 4), Math.log(4 / 3)));
  const cw = Math.min(f.w, Math.round(Math.sqrt(area * ratio)));
  const ch = Math.min(f.h, Math.round(Math.sqrt(area / ratio)));
  const x0 = rng.int(f.w - cw + 1);
  const y0 = rng.int(f.h - ch + 1);
  const flip = rng.uniform() < 0.5;
  return tf.tidy(() => {
    const img = tf.tensor3d(f.data, [f.h, f.w, 3], 'int32');
    let crop = tf.image.resizeBilinear(tf.cast(tf.slice(img, [y0, x0, 0], [ch, cw, 3]), 'float32') as tf.Tensor3D, [size, size]);
    if (flip) crop = tf.reverse(crop, 1);
    const norm = tf.div(tf.sub(tf.div(crop, 255), tf.tensor1d(MEAN)), tf.tensor1d(STD));
    return tf.transpose(norm, [2, 0, 1]) as tf.Tensor3D;
  });
}

async function run(patchWeight: number): Promise<{ losses: number[]; patch: number[]; msPerStep: number }> {
  const rng = new Rng(7);
  const cfg = swinTiny({ embedDim: 24, depths: [2, 2, 2], numHeads: [2, 4, 8], imgSize: size, dropPathRate: 0.1 });
  const model = new MoBYSelfPatch(new SwinTransformer(cfg, { rng: new Rng(1) }), new SwinTransformer({ ...cfg, dropPathRate: 0 }, { rng: new Rng(1) }), {
    numFeatures: 96,
    innerDim: 256,
    outDim: 128,
    numNegative: 64,
    caHeads: 8,
    patchOutDim: 256,
    patchHiddenDim: 256,
    patchBottleneckDim: 64,
    patchWeight,
    rng: new Rng(2),
  });
  const trainer = new MoBYTrainer({ model, lr: cosineSchedule(1e-3, 1e-5, 1, steps, 0.1), weightDecay: 0.05, niterPerEpoch: steps, clipGrad: 5 });
  const losses: number[] = [];
  const patch: number[] = [];
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) {
    const pick = Array.from({ length: batch }, () => frames[rng.int(frames.length)] as (typeof frames)[number]);
    const v1 = tf.stack(pick.map((f) => view(rng, f))) as tf.Tensor4D;
    const v2 = tf.stack(pick.map((f) => view(rng, f))) as tf.Tensor4D;
    const r = trainer.step([v1, v2], s);
    tf.dispose([v1, v2]);
    losses.push(r.loss);
    patch.push(r.terms.patch as number);
    if (s % 10 === 0) console.error(`λ=${patchWeight} step ${s}: loss ${r.loss.toFixed(4)} (patch ${patch[s]?.toFixed(4)})`);
  }
  const msPerStep = (performance.now() - t0) / steps;
  trainer.dispose();
  model.dispose();
  return { losses, patch, msPerStep };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const win = Math.max(3, Math.floor(steps / 8));
const results: Record<string, unknown> = {};
const lines = [`MoBY+SelfPatch on Swin (embed 24, depths [2,2,2], ${size} px → 7×7 grid), batch ${batch}, ${steps} steps on ${frames.length} real DAVIS frames, tfjs-wasm`, '', '| run | ms/step | loss first ' + win + ' | loss last ' + win + ' | patch term first → last | finite |', '|---|---|---|---|---|---|'];
for (const lambda of [0.1, 0]) {
  const r = await run(lambda);
  const first = mean(r.losses.slice(0, win));
  const last = mean(r.losses.slice(-win));
  results[`lambda_${lambda}`] = { ...r, first, last, decreased: last < first };
  lines.push(`| λ = ${lambda} | ${r.msPerStep.toFixed(0)} | ${first.toFixed(4)} | ${last.toFixed(4)} | ${mean(r.patch.slice(0, win)).toFixed(4)} → ${mean(r.patch.slice(-win)).toFixed(4)} | ${r.losses.every(Number.isFinite)} |`);
}
console.log(lines.join('\n'));
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'swin-selfpatch-train.json'), JSON.stringify({ date: new Date().toISOString(), steps, batch, results }, null, 2));
writeFileSync(join(here, 'results', 'swin-selfpatch-train.md'), `${lines.join('\n')}\n`);
process.exit(0);
