/**
 * `selfpatch-infer`: inference on WASM in Node with any checkpoint the packages load —
 * `features` (patch features to safetensors), `attention` (attention and PCA PNGs), `propagate`
 * (video object segmentation from a first-frame mask over a folder of frames or a DAVIS
 * sequence, scored with J&F when ground truth is given), `web` (serves the prebuilt browser app).
 * Built on @selfpatch/eval's runners.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, tensorToRaw } from '@selfpatch/nn';
import { serializeSafetensors } from '@selfpatch/checkpoint';
import { writeFileAtomic } from '@selfpatch/checkpoint/node';
import { decodeImage, IMAGE_EXTENSIONS, pilResize, readMask, toNormalizedCHW } from '@selfpatch/data';
import { scoreSequence, summarizeScores, GLOBAL_COLUMNS, type DavisScores } from '@selfpatch/eval';
import { checkpointOptions, davisSequences, intOption, MAX_IMAGE_SIDE, openCheckpoint, propagateSequence, runCli, visualizeImage, type CheckpointCliOptions, type DenseBackbone } from '@selfpatch/eval/node';
import { frameProgress } from './progress.js';
import { serveWebApp } from './web-server.js';

/** Patch features of one image as `[h·w, C]` float32 plus the grid in the metadata. */
export async function extractFeatures(net: DenseBackbone, image: string, size: number): Promise<{ bytes: Uint8Array; h: number; w: number; c: number }> {
  const img = await decodeImage(image);
  const s = Math.max(net.stride, Math.round(size / net.stride) * net.stride);
  const x = tf.tensor4d(toNormalizedCHW(pilResize(img, s, s, 'bicubic')), [1, 3, s, s]);
  const { feats, h, w } = net.features(x);
  x.dispose();
  const raw = tensorToRaw(feats);
  feats.dispose();
  const c = raw.shape[1] as number;
  const bytes = serializeSafetensors({ features: raw }, { grid_h: String(h), grid_w: String(w), stride: String(net.stride), input_size: String(s), image: basename(image) });
  return { bytes, h, w, c };
}

function imagesIn(dir: string): string[] {
  if (!existsSync(dir)) throw new ConfigError('--frames', `${dir} does not exist`);
  const files = readdirSync(dir)
    .filter((f) => IMAGE_EXTENSIONS.includes(extname(f).toLowerCase()))
    .sort()
    .map((f) => join(dir, f));
  if (files.length < 2) throw new ConfigError('--frames', `${dir} holds ${files.length} image(s); a video needs at least 2 frames`);
  return files;
}

function printScores(s: DavisScores): void {
  console.log(`${'object'.padEnd(20)}${GLOBAL_COLUMNS.map((c) => c.padStart(10)).join('')}`);
  for (const o of s.objects) console.log(`${o.name.padEnd(20)}${[(o.J.mean + o.F.mean) / 2, o.J.mean, o.J.recall, o.J.decay, o.F.mean, o.F.recall, o.F.decay].map((v) => v.toFixed(3).padStart(10)).join('')}`);
  console.log(`${'global'.padEnd(20)}${GLOBAL_COLUMNS.map((c) => s.global[c].toFixed(3).padStart(10)).join('')}`);
}

export function buildProgram(): Command {
  const program = new Command('selfpatch-infer').description('WASM inference with self-supervised ViT/Swin backbones').showHelpAfterError();
  checkpointOptions(program.command('features'), 'wasm')
    .description('patch features of an image to safetensors (`features` [h·w, C], grid in the metadata)')
    .requiredOption('--image <file>', 'input image')
    .requiredOption('--out <file>', 'output .safetensors')
    .option('--size <px>', 'square input size (rounded to the stride)', intOption('--size', 1, MAX_IMAGE_SIDE), 224)
    .action(async (o: CheckpointCliOptions & { image: string; out: string; size: number }) => {
      const net = await openCheckpoint(o, { flag: '--size', value: o.size });
      try {
        const r = await extractFeatures(net, o.image, o.size);
        writeFileAtomic(o.out, r.bytes);
        console.log(`${o.out}: features [${r.h * r.w}, ${r.c}] on a ${r.h}x${r.w} grid`);
      } finally {
        net.dispose();
      }
    });
  checkpointOptions(program.command('attention'), 'wasm')
    .description('attention maps per head and patch-feature PCA as PNGs')
    .requiredOption('--image <file>', 'input image')
    .option('--out <dir>', 'output folder', 'attention')
    .option('--size <px>', 'square input size (rounded to the stride)', intOption('--size', 1, MAX_IMAGE_SIDE), 480)
    .action(async (o: CheckpointCliOptions & { image: string; out: string; size: number }) => {
      const net = await openCheckpoint(o, { flag: '--size', value: o.size });
      try {
        const r = await visualizeImage(net, o.image, o.out, o.size);
        console.log(r.files.join('\n'));
      } finally {
        net.dispose();
      }
    });
  checkpointOptions(program.command('propagate'), 'wasm')
    .description('video object segmentation: propagate a first-frame mask over the frames (J&F when ground truth is given)')
    .option('--frames <dir>', 'folder of frames (sorted by name)')
    .option('--mask <png>', 'first-frame mask (palette indices, or 0/255)')
    .option('--gt <dir>', 'ground-truth masks named like the frames (optional)')
    .option('--davis <root>', 'a DAVIS root instead of --frames/--mask (with --sequence)')
    .option('--sequence <name>', 'DAVIS sequence')
    .option('--year <year>', 'DAVIS year for --davis', '2016')
    .option('--out <dir>', 'output folder for the palette PNGs', 'propagation')
    .option('--short-side <px>', 'frame short side (480 = the official protocol)', intOption('--short-side', 1, MAX_IMAGE_SIDE), 480)
    .option('--n-last-frames <n>', 'queue length', intOption('--n-last-frames', 1), 7)
    .action(async (o: CheckpointCliOptions & { frames?: string; mask?: string; gt?: string; davis?: string; sequence?: string; year: string; out: string; shortSide: number; nLastFrames: number }) => {
      let seq: { name: string; frames: string[]; masks: string[] };
      let gt: string[] | null = null;
      if (o.davis) {
        if (!o.sequence) throw new ConfigError('--sequence', 'required with --davis');
        const s = davisSequences(o.davis, { year: o.year === '2017' ? '2017' : '2016', sequences: [o.sequence] })[0];
        if (!s) throw new ConfigError('--sequence', `'${o.sequence}' not found`);
        seq = s;
        gt = s.masks;
      } else {
        if (!o.frames || !o.mask) throw new ConfigError('--frames', 'give --frames DIR and --mask FIRST.png (or --davis ROOT --sequence NAME)');
        const frames = imagesIn(o.frames);
        seq = { name: basename(resolve(o.frames)), frames, masks: [o.mask] };
        if (o.gt) {
          gt = frames.map((f) => join(o.gt as string, `${basename(f, extname(f))}.png`));
          const missing = gt.find((g) => !existsSync(g));
          if (missing) throw new ConfigError('--gt', `missing ground-truth mask ${missing}`);
        }
      }
      const net = await openCheckpoint(o, { flag: '--short-side', value: o.shortSide, longSide: 2 * o.shortSide });
      mkdirSync(o.out, { recursive: true });
      const progress = frameProgress('frame');
      try {
        await propagateSequence(net, seq, o.out, {
          davis: '',
          out: o.out,
          shortSide: o.shortSide,
          nLastFrames: o.nLastFrames,
          onFrame: (_s, i, n) => progress.update(i + 1, n),
        });
      } finally {
        progress.stop();
        net.dispose();
      }
      console.log(`masks: ${resolve(o.out)}`);
      if (gt) {
        const preds = seq.frames.slice(1, -1).map((f) => readMask(join(o.out, `${basename(f, extname(f))}.png`)));
        const scores = summarizeScores(scoreSequence(seq.name, gt.map((g) => readMask(g)), preds));
        printScores(scores);
        writeFileAtomic(join(o.out, 'scores.json'), new TextEncoder().encode(`${JSON.stringify(scores.global, null, 2)}\n`));
      }
    });
  program
    .command('web')
    .description('serve the browser app (prebuilt in the package) cross-origin isolated; open the printed URL')
    .option('--port <n>', 'port (0: any free one)', intOption('--port', 0, 65535), 8080)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--root <dir>', 'folder of another build of the app (default: the packaged one)')
    .action(async (o: { port: number; host: string; root?: string }) => {
      const { server, url } = await serveWebApp(o);
      console.log(`selfpatch-infer web app: ${url} (Ctrl-C stops)`);
      // Serve until interrupted; the CLI wrapper exits when the action returns.
      await new Promise<void>((done) => {
        const stop = () => {
          server.closeAllConnections();
          server.close(() => done());
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  await runCli(buildProgram(), argv);
}
