/**
 * `selfpatch-eval`: `davis` (label propagation + J&F with davis2017-evaluation's CSVs), `knn`
 * (weighted k-NN top-1/top-5 on a labelled folder or Fashion-MNIST) and `visualize` (attention and
 * PCA PNGs). commander parses, cli-progress draws the bar on a TTY (plain lines otherwise).
 */
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { ConfigError } from '@selfpatch/nn';
import { knnClassifyMany } from '../knn.js';
import type { ImageFeatureKind } from '../backbone.js';
import { checkpointOptions, intOption, MAX_IMAGE_SIDE, openCheckpoint, runCli } from './cli-common.js';
import { GLOBAL_COLUMNS } from '../davis-scores.js';
import { davisSequences, evaluateDavis, runDavis, writeDavisCsv } from './davis.js';
import { fashionMnistFeatures, folderFeatures, type LabelledFeatures } from './knn-data.js';
import { visualizeImage } from './visualize-files.js';

interface Progress {
  tick: (done: number, total: number, detail?: string) => void;
  stop: () => void;
}

function progress(label: string): Progress {
  const bar = process.stderr.isTTY ? new SingleBar({ format: `${label} |{bar}| {value}/{total} {detail} ETA {eta_formatted}`, hideCursor: true }) : null;
  let started = false;
  let lastPrinted = -1;
  return {
    tick(done, total, detail = '') {
      if (bar) {
        if (!started) bar.start(total, 0, { detail });
        started = true;
        bar.setTotal(total);
        bar.update(done, { detail });
      } else if (done === total || Math.floor((10 * done) / total) > lastPrinted) {
        lastPrinted = Math.floor((10 * done) / total);
        console.error(`${label} ${done}/${total} ${detail}`);
      }
    },
    stop: () => bar?.stop(),
  };
}

export function buildProgram(): Command {
  const program = new Command('selfpatch-eval').description('Evaluate self-supervised backbones: DAVIS J&F, k-NN, attention maps').showHelpAfterError();
  checkpointOptions(program.command('davis'))
    .description('DAVIS video object segmentation by label propagation; writes palette PNGs, global_results.csv, per-sequence_results.csv')
    .requiredOption('--davis <dir>', 'DAVIS root (JPEGImages/, Annotations/, ImageSets/)')
    .option('--sequences <names>', 'comma-separated subset')
    .option('--year <year>', '2016 or 2017 (default: 2017 when ImageSets/2017 exists)')
    .option('--split <split>', 'image set', 'val')
    .option('--out <dir>', 'results folder', 'davis-results')
    .option('--n-last-frames <n>', 'queue length', intOption('--n-last-frames'), 7)
    .option('--size-mask-neighborhood <n>', 'spatial radius in patches (0 = off)', intOption('--size-mask-neighborhood'), 12)
    .option('--topk <n>', 'kept affinities per query', intOption('--topk'), 5)
    .option('--short-side <px>', 'frame short side (480 = the official protocol)', intOption('--short-side', 1, MAX_IMAGE_SIDE), 480)
    .action(async (o: { checkpoint: string; which?: string; numHeads?: number; backend: string; davis: string; sequences?: string; year?: string; split: string; out: string; nLastFrames: number; sizeMaskNeighborhood: number; topk: number; shortSide: number }) => {
      if (o.year !== undefined && o.year !== '2016' && o.year !== '2017') throw new ConfigError('--year', `expected 2016 or 2017, got '${o.year}'`);
      const seqNames = o.sequences?.split(',').map((s) => s.trim()).filter(Boolean);
      const seqs = davisSequences(o.davis, { year: o.year as '2016' | '2017' | undefined, split: o.split, sequences: seqNames });
      const net = await openCheckpoint(o, { flag: '--short-side', value: o.shortSide, longSide: 2 * o.shortSide });
      const out = resolve(o.out);
      const bar = progress('propagating');
      const totalFrames = seqs.reduce((a, s) => a + s.frames.length - 1, 0);
      let done = 0;
      try {
        await runDavis(net, {
          davis: o.davis,
          out,
          year: o.year as '2016' | '2017' | undefined,
          split: o.split,
          sequences: seqNames,
          nLastFrames: o.nLastFrames,
          radius: o.sizeMaskNeighborhood,
          topk: o.topk,
          shortSide: o.shortSide,
          onFrame: (seq) => bar.tick(++done, totalFrames, seq),
          onSequence: (seq, skipped) => {
            if (skipped) {
              done += (seqs.find((s) => s.name === seq)?.frames.length ?? 1) - 1;
              console.error(`${seq}: already done in ${out}, skipped (delete ${join(out, seq)} to redo)`);
            }
          },
        });
      } finally {
        bar.stop();
        net.dispose();
      }
      const scores = evaluateDavis(seqs, out);
      const files = writeDavisCsv(scores, out);
      console.log(`\n${'sequence'.padEnd(24)}${GLOBAL_COLUMNS.map((c) => c.padStart(10)).join('')}`);
      for (const ob of scores.objects) console.log(`${ob.name.padEnd(24)}${[(ob.J.mean + ob.F.mean) / 2, ob.J.mean, ob.J.recall, ob.J.decay, ob.F.mean, ob.F.recall, ob.F.decay].map((v) => v.toFixed(3).padStart(10)).join('')}`);
      console.log(`${'global'.padEnd(24)}${GLOBAL_COLUMNS.map((c) => scores.global[c].toFixed(3).padStart(10)).join('')}`);
      console.log(`\nmasks: ${out}/<sequence>/*.png\n${files.global}\n${files.perSequence}`);
    });
  checkpointOptions(program.command('knn'))
    .description('weighted k-NN classification (DINO protocol): top-1 / top-5 accuracy')
    .option('--train <dir>', 'labelled training folder (<class>/*.jpg)')
    .option('--val <dir>', 'labelled evaluation folder')
    .option('--fashion-mnist [dir]', 'use Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist)')
    .option('--train-limit <n>', 'use the first n training images', intOption('--train-limit'))
    .option('--test-limit <n>', 'use the first n evaluation images', intOption('--test-limit'))
    .option('--image-size <px>', 'center-crop size fed to the backbone', intOption('--image-size', 1, MAX_IMAGE_SIDE), 224)
    .option('--nb-knn <k...>', 'neighbour counts, evaluated in one pass (DINO: 10 20 100 200)', (v: string, prev: number[] | undefined) => [...(prev ?? []), intOption('--nb-knn', 1)(v)])
    .option('--temperature <t>', 'vote temperature', Number, 0.07)
    .addOption(new Option('--image-feature <kind>', "image-level feature: auto (the SelfPatch head's image token when the file has ca_head.*, else the class token, else the patch mean) | head | mean").choices(['auto', 'head', 'mean']).default('auto'))
    .action(async (o: { checkpoint: string; which?: string; numHeads?: number; backend: string; train?: string; val?: string; fashionMnist?: string | boolean; trainLimit?: number; testLimit?: number; imageSize: number; nbKnn?: number[]; temperature: number; imageFeature: ImageFeatureKind }) => {
      if (!o.fashionMnist && !(o.train && o.val)) throw new ConfigError('--train', 'give --train and --val folders, or --fashion-mnist');
      const net = await openCheckpoint(o, { flag: '--image-size', value: o.imageSize });
      const dir = typeof o.fashionMnist === 'string' ? o.fashionMnist : undefined;
      let train: LabelledFeatures | null = null;
      let test: LabelledFeatures | null = null;
      try {
        const b1 = progress('train features');
        train = o.fashionMnist
          ? await fashionMnistFeatures(net, 'train', { dir, size: o.imageSize, limit: o.trainLimit, onProgress: b1.tick })
          : await folderFeatures(net, o.train as string, { size: o.imageSize, limit: o.trainLimit, onProgress: b1.tick });
        b1.stop();
        const b2 = progress('eval features');
        test = o.fashionMnist
          ? await fashionMnistFeatures(net, 'test', { dir, size: o.imageSize, limit: o.testLimit, onProgress: b2.tick })
          : await folderFeatures(net, o.val as string, { size: o.imageSize, limit: o.testLimit, onProgress: b2.tick });
        b2.stop();
        const n = train.labels.length;
        const ks = [...new Set((o.nbKnn ?? [10, 20, 100, 200]).map((k) => Math.min(k, n)))];
        const byK = knnClassifyMany(train.feats, train.labels, test.feats, test.labels, ks, { temperature: o.temperature, numClasses: train.classes.length });
        for (const s of [...train.skipped, ...test.skipped]) console.error(`skipped unreadable image ${s}`);
        console.log(`image feature: ${net.imageFeature}; ${test.labels.length} images, ${n} references, ${train.classes.length} classes, T=${o.temperature}`);
        for (const [k, r] of byK) console.log(`${k}-NN: top-1 ${r.top1.toFixed(2)}%  top-5 ${r.top5.toFixed(2)}%`);
      } finally {
        train?.feats.dispose();
        test?.feats.dispose();
        net.dispose();
      }
    });
  checkpointOptions(program.command('visualize'))
    .description('attention maps per head (ViT) and a patch-feature PCA image, as PNGs')
    .requiredOption('--image <file>', 'input image')
    .option('--out <dir>', 'output folder', 'visualize')
    .option('--size <px>', 'square input size (rounded to the stride)', intOption('--size', 1, MAX_IMAGE_SIDE), 480)
    .action(async (o: { checkpoint: string; which?: string; numHeads?: number; backend: string; image: string; out: string; size: number }) => {
      const net = await openCheckpoint(o, { flag: '--size', value: o.size });
      try {
        const r = await visualizeImage(net, o.image, o.out, o.size);
        console.log(`${r.grid.h}x${r.grid.w} patches:\n${r.files.join('\n')}`);
      } finally {
        net.dispose();
      }
    });
  return program;
}

/** Runs the CLI; typed errors are one line and exit code 2. */
export async function main(argv: string[] = process.argv): Promise<void> {
  await runCli(buildProgram(), argv);
}
