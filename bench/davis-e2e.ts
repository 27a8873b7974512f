/**
 * DAVIS end to end, against the official pipeline: `selfpatch-eval davis` (frame decode and
 * resize, ViT features, label propagation, ×16 upsampling, PNG writing) and SelfPatch's own
 * eval_video_segmentation.py (https://github.com/alinlab/SelfPatch at 81aef14, run unmodified on
 * the CPU from the checkout in SELFPATCH_OFFICIAL_DIR: bench/py/official_davis.py), on the same
 * real DAVIS-2016 frames with the same weights, at 1 and 2 threads. Each run is its own process
 * and is timed whole (start-up, model load, every frame), as a user waits for it; rounds
 * alternate the sides. Both sides' masks are then scored by the same scorer (@selfpatch/eval's
 * J&F) and compared pixel by pixel, so the two did the same work.
 *
 *   SELFPATCH_OFFICIAL_DIR=<SelfPatch checkout at 81aef14> npm run bench:davis -w @selfpatch/bench
 *   BENCH_DAVIS_FRAMES (10 per sequence)  BENCH_ROUNDS (3)  BENCH_THREADS (1,2)
 *   BENCH_BACKENDS (wasm,tensorflow)  BENCH_DAVIS_ARCH (vit_small)
 *   On Node 20, `node --experimental-wasm-relaxed-simd` (instead of `npm run`) passes the flag on to
 *   our runs, so wasm runs the kernels' relaxed-SIMD build, the default from Node 22.
 *   SELFPATCH_DAVIS_DIR (default ../shared/data/davis2016-sample/DAVIS)
 *
 * Weights: the official model's seed-0 initialisation saved as a DINO training checkpoint: the
 * cost does not depend on the values, and random features make near-ties in the top-5 affinities,
 * the hardest case for agreement. Ratios pass through bench/sanity.ts (refused from a disturbed run).
 * Writes bench/results/davis-e2e.{json,md} and the per-host copy.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readMask } from '@selfpatch/data';
import { davisSequences, encodeIndexedPng, evaluateDavis } from '@selfpatch/eval/node';
import { hostDescription, inheritedWasmFlags, openblasEnv, roundsCheck, threadsCheck } from './sanity.js';
import { median } from './stats.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const python = process.env.SELFPATCH_PYTHON ?? '/usr/bin/python3';
const official = process.env.SELFPATCH_OFFICIAL_DIR;
if (!official) throw new Error('SELFPATCH_OFFICIAL_DIR: set it to a SelfPatch checkout at 81aef14 (the baseline is the official script)');
const davis = resolve(process.env.SELFPATCH_DAVIS_DIR ?? join(root, '..', 'shared', 'data', 'davis2016-sample', 'DAVIS'));
const perSeq = Number(process.env.BENCH_DAVIS_FRAMES ?? 10);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const threadList = (process.env.BENCH_THREADS ?? '1,2').split(',').map(Number);
const backends = (process.env.BENCH_BACKENDS ?? 'wasm,tensorflow').split(',');
const arch = process.env.BENCH_DAVIS_ARCH ?? 'vit_small';

/**
 * The first `perSeq` frames (and masks) of every sequence, in the DAVIS-2017 layout both sides
 * read. The 2016 masks (0/255 grayscale) are rewritten as 2017's indexed PNGs (object 1): the
 * official script one-hot encodes the raw PNG values, so a 0/255 mask would make it propagate 256
 * classes and write label 255.
 */
function trimmedDataset(dir: string): string[] {
  const seqs = davisSequences(davis, { year: '2016' });
  for (const seq of seqs) {
    const frames = join(dir, 'JPEGImages', '480p', seq.name);
    const masks = join(dir, 'Annotations', '480p', seq.name);
    mkdirSync(frames, { recursive: true });
    mkdirSync(masks, { recursive: true });
    for (const f of seq.frames.slice(0, perSeq)) symlinkSync(f, join(frames, basename(f)));
    for (const m of seq.masks.slice(0, perSeq)) {
      const { labels, width, height } = readMask(m);
      writeFileSync(join(masks, basename(m)), encodeIndexedPng(labels, width, height));
    }
  }
  mkdirSync(join(dir, 'ImageSets', '2017'), { recursive: true });
  writeFileSync(join(dir, 'ImageSets', '2017', 'val.txt'), `${seqs.map((s) => s.name).join('\n')}\n`);
  return seqs.map((s) => s.name);
}

interface Run {
  s: number;
  error?: string;
  /** Ours: the CLI's `backend:` line (backend, threads, kernel build). */
  backend?: string;
}

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): Run {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 26 });
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0) return { s: NaN, error: `${r.stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 400)} (exit ${r.status})` };
  const backend = /^backend: (.*)$/m.exec(r.stderr)?.[1];
  return backend === undefined ? { s } : { s, backend };
}

const openblas = openblasEnv(python, hostDescription().flags);
const torchEnv = (t: number): NodeJS.ProcessEnv => ({ BENCH_THREADS: String(t), OMP_WAIT_POLICY: 'PASSIVE', OPENBLAS_NUM_THREADS: String(t), ...openblas.env });

function runOfficial(data: string, weights: string, out: string, t: number): Run {
  rmSync(out, { recursive: true, force: true });
  return timed(python, [join(here, 'py', 'official_davis.py'), 'run', official as string, data, weights, arch, out], torchEnv(t));
}

function runOurs(backend: string, data: string, weights: string, out: string, t: number): Run {
  rmSync(out, { recursive: true, force: true });
  // The published CLI's compiled entry when built (what `npx selfpatch-eval` runs), else the sources.
  const built = join(root, 'packages', 'eval', 'dist', 'node', 'main.js');
  const entry = existsSync(built) ? [built] : ['--conditions=source', '--import', 'tsx', join(root, 'packages', 'eval', 'src', 'node', 'main.ts')];
  const args = [...entry, 'davis', '--davis', data, '--year', '2017', '--checkpoint', weights, '--backend', backend, '--out', out];
  if (backend === 'wasm') args.push('--threads', String(t));
  return timed(process.execPath, [...inheritedWasmFlags(), ...args], { TF_NUM_INTRAOP_THREADS: String(t), TF_NUM_INTEROP_THREADS: '1', TF_CPP_MIN_LOG_LEVEL: '2' });
}

/** Pixels where two result folders' masks differ, over all frames after the first. */
function maskAgreement(a: string, b: string, seqs: string[]): { differing: number; total: number } {
  let differing = 0;
  let total = 0;
  for (const seq of seqs) {
    for (const f of readdirSync(join(a, seq)).filter((n) => n.endsWith('.png') && n !== '00000.png')) {
      const x = readMask(join(a, seq, f)).labels;
      const y = readMask(join(b, seq, f)).labels;
      if (x.length !== y.length) throw new Error(`${seq}/${f}: mask sizes differ (${x.length} vs ${y.length})`);
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) differing++;
      total += x.length;
    }
  }
  return { differing, total };
}

const work = mkdtempSync(join(tmpdir(), 'selfpatch-davis-bench-'));
try {
  const data = join(work, 'DAVIS');
  const seqNames = trimmedDataset(data);
  const frames = seqNames.length * (perSeq - 1);
  const weights = join(work, `${arch}-seed0.pth`);
  const w = spawnSync(python, [join(here, 'py', 'official_davis.py'), 'weights', official, arch, weights], { encoding: 'utf8' });
  if (w.status !== 0) throw new Error(`writing the weights failed: ${w.stderr.slice(-400)}`);
  const host = hostDescription();
  const sides = ['official', ...backends];
  const samples = new Map<string, Run[]>();
  const outOf = (side: string, t: number): string => join(work, `out-${side}-${t}`);
  for (let r = 0; r < rounds; r++) {
    for (const t of threadList) {
      const order = sides.map((_, i) => sides[(i + r) % sides.length] as string);
      for (const side of order) {
        const run = side === 'official' ? runOfficial(data, weights, outOf(side, t), t) : runOurs(side, data, weights, outOf(side, t), t);
        const key = `${side}@${t}`;
        (samples.get(key) ?? samples.set(key, []).get(key)!).push(run);
        console.error(`round ${r + 1}/${rounds} T=${t} ${side}: ${run.error ? `error: ${run.error}` : `${run.s.toFixed(1)} s (${((run.s * 1000) / frames).toFixed(0)} ms/frame)`}`);
        // Without the baseline no round can give a ratio: stop now, not after every run of ours.
        if (side === 'official' && run.error) throw new Error(`the official baseline failed (${run.error}); nothing was written to bench/results`);
      }
    }
  }
  const seqs = davisSequences(data, { year: '2017' });
  const jf = (dir: string): number => evaluateDavis(seqs, dir).global['J&F-Mean'];
  const secs = (key: string): number[] => (samples.get(key) ?? []).map((x) => x.s).filter(Number.isFinite);
  const rows = [];
  for (const backend of backends) {
    for (const t of threadList) {
      const ours = secs(`${backend}@${t}`);
      const base = secs(`official@${t}`);
      const ratios = (samples.get(`${backend}@${t}`) ?? []).map((x, i) => x.s / ((samples.get(`official@${t}`) ?? [])[i]?.s ?? NaN)).filter(Number.isFinite);
      const refused =
        (ours.length < rounds || base.length < rounds ? 'a run failed' : null) ??
        roundsCheck('official', base) ??
        roundsCheck(backend, ours) ??
        (threadList.includes(1) && threadList.includes(2) ? threadsCheck('official', median(secs('official@1')), median(secs('official@2'))) : null);
      const agree = maskAgreement(outOf('official', t), outOf(backend, t), seqNames);
      rows.push({
        backend,
        described: (samples.get(`${backend}@${t}`) ?? []).find((x) => x.backend)?.backend ?? '',
        threads: t,
        ours_s: median(ours),
        ours_s_min: Math.min(...ours),
        ours_s_max: Math.max(...ours),
        official_s: median(base),
        official_s_min: Math.min(...base),
        official_s_max: Math.max(...base),
        ratio: median(ratios),
        ratio_min: Math.min(...ratios),
        ratio_max: Math.max(...ratios),
        refused,
        jf_ours: jf(outOf(backend, t)),
        jf_official: jf(outOf('official', t)),
        pixels_differing: agree.differing / agree.total,
        errors: [...(samples.get(`${backend}@${t}`) ?? []), ...(samples.get(`official@${t}`) ?? [])].map((x) => x.error).filter(Boolean),
      });
    }
  }
  const f = (v: number, d = 1): string => (Number.isFinite(v) ? v.toFixed(d) : '–');
  const md = [
    `# DAVIS end to end: selfpatch-eval davis vs the official eval_video_segmentation.py (${new Date().toISOString().slice(0, 10)})`,
    '',
    `${arch}/16, seed-0 weights, DAVIS-2016 val (2-sequence sample: ${seqNames.join(', ')}), the first ${perSeq} frames of each: ${frames} propagated frames at 480 px, n_last_frames 7, neighbourhood 12, top-5. Whole-process wall time, ${rounds} alternating rounds, median [min–max]; ratio = ours ÷ official per round (≤ 1 is the target). Official: SelfPatch@81aef14 on PyTorch ${process.env.TORCH_VERSION ?? ''}CPU (Debian python3-torch, OpenBLAS core ${openblas.core}), T threads; ours: T XNNPACK threads on wasm, T intra-op threads on tensorflow.`,
    '',
    `Host: ${host.model}, ${host.cores} logical cores, flags ${host.flags.join(' ')}.`,
    '',
    '| backend | T | ours s | official s | ours ms/frame | official ms/frame | ratio [min–max] | J&F ours | J&F official | mask pixels differing |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.backend}${/kernels/.test(r.described) ? ` (${/([\w-]+) kernels/.exec(r.described)?.[1]})` : ''} | ${r.threads} | ${f(r.ours_s)} [${f(r.ours_s_min)}–${f(r.ours_s_max)}] | ${f(r.official_s)} [${f(r.official_s_min)}–${f(r.official_s_max)}] | ${f((r.ours_s * 1000) / frames, 0)} | ${f((r.official_s * 1000) / frames, 0)} | ${r.refused ? `refused: ${r.refused}` : `${f(r.ratio, 2)} [${f(r.ratio_min, 2)}–${f(r.ratio_max, 2)}] ${r.ratio <= 1 ? '✓' : '✗'}`} | ${f(r.jf_ours, 6)} | ${f(r.jf_official, 6)} | ${(r.pixels_differing * 100).toFixed(4)}% |${r.errors.length ? ` errors: ${r.errors.join('; ')}` : ''}`,
    ),
  ].join('\n');
  console.log(md);
  const json = JSON.stringify({ date: new Date().toISOString(), host, openblas_core: openblas.core, arch, perSeq, frames, rounds, rows }, null, 2);
  for (const dir of [join(here, 'results'), join(here, 'results', 'hosts', host.slug)]) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'davis-e2e.json'), json);
    writeFileSync(join(dir, 'davis-e2e.md'), `${md}\n`);
  }
  if (rows.some((r) => r.errors.length)) process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
