/**
 * The performance suite: one command, one run, ratios against baselines measured in
 * the same run.
 *
 *   npm run bench            (this suite; `npm run bench:all` adds the older per-topic benchmarks)
 *   BENCH_ROUNDS (3)  BENCH_THREADS ("1,2")  BENCH_STEP_BATCH (8)  BENCH_STEP_LOCAL (0)
 *   BENCH_STEP_MICRO (4, wasm)  BENCH_STEP_MICRO_TENSORFLOW (0)  BENCH_STEPS (1)
 *   BENCH_STEPS_TENSORFLOW (4)  BENCH_FWD_BATCH (8)
 *   BENCH_CASES (matmul,forward,step)  BENCH_QUICK=1 (tiny smoke run)
 *
 * Cases, at every thread count T:
 * - roofline: tfjs-wasm `matMul` 1024³ (@selfpatch/backend's SIMD tile since it replaced XNNPACK's
 *   BatchMatMul, at about XNNPACK's rate on this size) and torch `a @ b`;
 * - ViT-Ti/16 and ViT-S/16 forward, 224 px, eval (SelfPatch layout);
 * - the DINO+SelfPatch training step, ViT-Ti/16, 2×224 global crops (+ local crops), the official
 *   head sizes 65536/4096, drop-path 0.1: @selfpatch/ssl's DINOTrainer (teacher, student,
 *   per-parameter clip, last-layer freeze, AdamW, EMA, centers) against
 *   bench/py/selfpatch_step.py, the same iteration written from docs/selfpatch.md §1-§5 in PyTorch.
 * The student's micro-batch is per backend (0 = a whole crop group in one taped graph, as PyTorch
 * and as the train app's default `micro_batch: null`): wasm 4, because the whole-batch step of
 * ViT-Ti b8 outgrows its 4 GB heap (measured: not done after 21 minutes, one core busy, where
 * micro-batch 4 takes 15-21 s); tensorflow 0, what a user of the native backend runs. Micro-batches
 * give the same gradients but cost time on tensorflow (b8: 7.1 s against 4.0-4.4 s a step at T=2).
 * The torch twin is checked first: from the same weights and crops both sides must give the same
 * first-step loss, so the two sides do the same work.
 *
 * Every measurement is its own process. Each round runs every case once, tfjs and torch
 * alternating, so slow phases of a noisy machine hit both sides; per-round ratios, then medians
 * over rounds. torch runs with OMP_WAIT_POLICY=PASSIVE, OPENBLAS_NUM_THREADS=T and
 * set_num_threads(T); tfjs-wasm with T XNNPACK threads (T > 1 uses the threaded binary); the
 * tensorflow backend (tfjs-node, when installed: `npm run setup:tfjs-node`) with
 * TF_NUM_INTRAOP_THREADS=T and one inter-op thread. `BENCH_BACKENDS` (default `wasm,tensorflow`)
 * picks the tfjs backends; one that is not installed is reported and left out.
 *
 * Baselines: the forward rows time the official SelfPatch ViT (selfpatch_vision_transformer.py at
 * 81aef14, imported from the checkout in SELFPATCH_OFFICIAL_DIR, its file hash checked:
 * bench/py/official_forward.py); without it they print times but refuse the ratio. The step's
 * baseline is the twin above (equal losses; its time is not checked against the official loop).
 * A ratio is refused (bench/sanity.ts) when a side's rounds spread over 25%, a round took twice its
 * previous one, or PyTorch at 2 threads was not faster than at 1. Results are kept per host
 * (bench/results/hosts/<cpu>-<cores>c/) with the CPU model, cores and vector flags.
 *
 * Achieved GFLOP/s = model FLOPs (2 × multiply-adds, counted analytically: bench/flops.ts) ÷ time;
 * a step counts the student 3× (forward + backward) and the teacher 1×.
 *
 * Writes bench/results/latest.json and bench/results/latest.md (a BENCH_CASES subset:
 * latest-<cases>.*).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { selfpatchStepFlops, vitForwardMacs, VIT_DIMS } from './flops.js';
import { median } from './stats.js';
import { runProc, twinCheck, type Json } from './twin.js';
import { hostDescription, inheritedWasmFlags, openblasEnv, roundsCheck, threadsCheck } from './sanity.js';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.env.BENCH_QUICK === '1';
const env = (k: string, d: number): number => Number(process.env[k] ?? d);
const rounds = env('BENCH_ROUNDS', quick ? 1 : 3);
const threadList = (process.env.BENCH_THREADS ?? '1,2').split(',').map(Number);
const stepBatch = env('BENCH_STEP_BATCH', quick ? 2 : 8);
const stepLocal = env('BENCH_STEP_LOCAL', 0);
const stepMicro: Record<string, number> = { wasm: env('BENCH_STEP_MICRO', 4), tensorflow: env('BENCH_STEP_MICRO_TENSORFLOW', 0) };
const microOf = (backend: string): number => stepMicro[backend] ?? stepMicro.wasm ?? 4;
const steps = env('BENCH_STEPS', 1);
// The native backend reaches its steady state later: its first steps map the step's working set
// page by page (measured, ViT-Ti b8 whole batch, T=1: iteration 2 took 21 s, iterations 3-6
// 6.1-7.3 s; 2.3 M minor page faults, 84% of the samples in the kernel's clear_page); the median
// of 4 timed steps is the steady state a training run sees.
const stepsOf = (backend: string): number => (backend === 'tensorflow' ? env('BENCH_STEPS_TENSORFLOW', 4) : steps);
const fwdBatch = env('BENCH_FWD_BATCH', quick ? 2 : 8);
const repeats = quick ? 1 : 3;
const mmN = quick ? 256 : 1024;
const python = process.env.SELFPATCH_PYTHON ?? '/usr/bin/python3';
// Head sizes of the official recipe; the quick run shrinks them (and the check always does).
const outDim = quick ? 4096 : 65536;
const patchOutDim = quick ? 1024 : 4096;

/** tfjs backends to measure: those asked for that load here. */
function availableBackends(): string[] {
  const wanted = (process.env.BENCH_BACKENDS ?? 'wasm,tensorflow').split(',').filter(Boolean);
  const req = createRequire(import.meta.url);
  return wanted.filter((b) => {
    if (b !== 'tensorflow') return true;
    try {
      req.resolve('@tensorflow/tfjs-node');
      return true;
    } catch {
      console.error('tensorflow backend: @tensorflow/tfjs-node is not installed (npm run setup:tfjs-node); its rows are left out');
      return false;
    }
  });
}
const backends = availableBackends();

const tfjs = (backend: string, threads: number, args: string[]): Json =>
  runProc(process.execPath, [...inheritedWasmFlags(), '--stack-trace-limit=5', '--conditions=source', '--import', 'tsx', join(here, 'suite-child.ts'), String(threads), ...args], {
    BENCH_BACKEND: backend,
    TF_NUM_INTRAOP_THREADS: String(threads),
    TF_NUM_INTEROP_THREADS: '1',
    TF_CPP_MIN_LOG_LEVEL: '2',
  });
const officialDir = process.env.SELFPATCH_OFFICIAL_DIR;
const host = hostDescription();
const openblas = openblasEnv(python, host.flags);
const torch = (threads: number, args: string[]): Json =>
  runProc(python, args[0] === 'official' ? [join(here, 'py', 'official_forward.py'), ...args.slice(1)] : [join(here, 'py', 'selfpatch_step.py'), ...args], {
    OMP_WAIT_POLICY: 'PASSIVE',
    OPENBLAS_NUM_THREADS: String(threads),
    BENCH_THREADS: String(threads),
    ...openblas.env,
  });

interface Case {
  id: string;
  label: string;
  gflop: number;
  tfjsArgs: (backend: string) => string[];
  torchArgs: string[];
  /** What the torch side runs, and the reason a ratio is refused whatever the times (null: none). */
  baseline: string;
  baselineRefusal: string | null;
}

const fwdCases: Case[] = (['vit_tiny', 'vit_small'] as const).map((arch) => {
  const [dim, depth, heads] = VIT_DIMS[arch];
  return {
    id: `forward_${arch}`,
    label: `${arch === 'vit_tiny' ? 'ViT-Ti' : 'ViT-S'}/16 forward, b${fwdBatch} 224`,
    gflop: (2 * vitForwardMacs(arch, 224, 224) * fwdBatch) / 1e9,
    tfjsArgs: () => ['forward', arch, String(fwdBatch), '224', String(repeats)],
    torchArgs: officialDir
      ? ['official', officialDir, arch, String(fwdBatch), '224', String(repeats)]
      : ['forward', String(dim), String(depth), String(heads), String(fwdBatch), '224', String(repeats)],
    baseline: officialDir ? 'official SelfPatch ViT (81aef14)' : 'twin (not the official code)',
    baselineRefusal: officialDir ? null : 'baseline is not the official code: set SELFPATCH_OFFICIAL_DIR to a SelfPatch checkout at 81aef14',
  };
});
const [tDim, tDepth, tHeads] = VIT_DIMS.vit_tiny;
const stepCase: Case = {
  id: 'step_vit_tiny',
  label: `ViT-Ti/16 DINO+SelfPatch step, b${stepBatch}, 2×224${stepLocal ? ` + ${stepLocal}×96` : ''}, heads ${outDim}/${patchOutDim}`,
  gflop: selfpatchStepFlops('vit_tiny', stepBatch, stepLocal, outDim, patchOutDim) / 1e9,
  tfjsArgs: (backend) => ['step', 'vit_tiny', String(stepBatch), String(stepLocal), String(stepsOf(backend)), String(microOf(backend)), String(outDim), String(patchOutDim)],
  // As many timed steps as the side that times most, so PyTorch's median is as steady as tfjs's.
  torchArgs: ['step', String(tDim), String(tDepth), String(tHeads), String(stepBatch), String(stepLocal), String(Math.max(...backends.map(stepsOf), steps)), String(outDim), String(patchOutDim)],
  baseline: 'twin (equal losses; time not checked against the official loop)',
  baselineRefusal: null,
};
const mmCase: Case = {
  id: 'matmul',
  label: `raw matMul ${mmN}³ (roofline)`,
  gflop: (2 * mmN ** 3) / 1e9,
  // 30 products per process (~2 s): a short run of 7 varied 22–29 GFLOP/s between suite runs.
  tfjsArgs: () => ['matmul', String(mmN), '30'],
  torchArgs: ['matmul', String(mmN), '30'],
  baseline: 'torch a @ b',
  baselineRefusal: null,
};
// BENCH_CASES (matmul,forward,step): a subset, e.g. `step` alone to re-measure one target.
const caseFilter = (process.env.BENCH_CASES ?? 'matmul,forward,step').split(',');
const cases = [mmCase, ...fwdCases, stepCase].filter((c) => caseFilter.some((f) => c.id.startsWith(f)));


const check = twinCheck(python);
console.error(`torch twin check: ${JSON.stringify(check)}`);

type Sample = { torch: Json } & Record<string, Json>;
const samples = new Map<string, Sample[]>();
for (let r = 0; r < rounds; r++) {
  for (const c of cases) {
    for (const t of threadList) {
      const key = `${c.id}@${t}`;
      // Rotate the order of the sides so a slow phase does not always hit the same one.
      const sides = ['torch', ...backends];
      const order = sides.map((_, i) => sides[(i + r) % sides.length] as string);
      const s = {} as Sample;
      for (const side of order) s[side] = side === 'torch' ? torch(t, c.torchArgs) : tfjs(side, t, c.tfjsArgs(side));
      (samples.get(key) ?? samples.set(key, []).get(key)!).push(s);
      console.error(`round ${r + 1}/${rounds} ${key}: ${sides.map((side) => `${side} ${fmt(s[side]?.ms)} ms${s[side]?.error ? ` (error: ${String(s[side]?.error)})` : ''}`).join(', ')}`);
    }
  }
}

function fmt(v: unknown, digits = 0): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '–';
}

interface Row {
  case: string;
  label: string;
  backend: string;
  threads: number;
  gflop: number;
  tfjs_ms: number;
  torch_ms: number;
  ratio: number;
  ratio_min: number;
  ratio_max: number;
  tfjs_gflops: number;
  torch_gflops: number;
  tfjs_heap_mb?: number;
  errors: string[];
  rounds_ok: number;
  tensors_flat?: boolean;
  tfjs_ms_min: number;
  tfjs_ms_max: number;
  torch_ms_min: number;
  torch_ms_max: number;
  baseline: string;
  /** Why no ratio is printed for this row (a disturbed run or an unverified baseline), or null. */
  refused: string | null;
}

const rows: Row[] = [];
for (const backend of backends) {
  for (const c of cases) {
    for (const t of threadList) {
      const ss = samples.get(`${c.id}@${t}`) ?? [];
      const ok = ss.filter((s) => typeof s[backend]?.ms === 'number' && typeof s.torch.ms === 'number');
      const ratios = ok.map((s) => (s[backend]?.ms as number) / (s.torch.ms as number));
      const tfjsAll = ok.map((s) => s[backend]?.ms as number);
      const torchAll = ok.map((s) => s.torch.ms as number);
      const tfjsMs = median(tfjsAll);
      const torchMs = median(torchAll);
      const torchAt = (threads: number) => median((samples.get(`${c.id}@${threads}`) ?? []).map((x) => x.torch.ms).filter((v): v is number => typeof v === 'number'));
      const refused =
        c.baselineRefusal ??
        roundsCheck('torch', torchAll) ??
        roundsCheck(backend, tfjsAll) ??
        (threadList.includes(1) && threadList.includes(2) ? threadsCheck('torch', torchAt(1), torchAt(2)) : null);
      const heaps = ok.map((s) => s[backend]?.heap_mb).filter((v): v is number => typeof v === 'number' && v > 0);
      const tensorRuns = ok.map((s) => s[backend]?.tensors).filter((v): v is number[] => Array.isArray(v));
      rows.push({
        case: c.id,
        label: c.id === stepCase.id ? `${c.label}, micro-batch ${microOf(backend) || 'none'}` : c.label,
        backend,
        threads: t,
        gflop: c.gflop,
        tfjs_ms: tfjsMs,
        torch_ms: torchMs,
        ratio: median(ratios),
        ratio_min: Math.min(...ratios),
        ratio_max: Math.max(...ratios),
        tfjs_gflops: c.gflop / (tfjsMs / 1000),
        torch_gflops: c.gflop / (torchMs / 1000),
        ...(heaps.length ? { tfjs_heap_mb: Math.max(...heaps) } : {}),
        ...(tensorRuns.length ? { tensors_flat: tensorRuns.every((ts) => ts.every((n) => n === ts[0])) } : {}),
        errors: ss.flatMap((s) => [s[backend]?.error, s.torch.error]).filter((e): e is string => typeof e === 'string'),
        rounds_ok: ok.length,
        tfjs_ms_min: Math.min(...tfjsAll),
        tfjs_ms_max: Math.max(...tfjsAll),
        torch_ms_min: Math.min(...torchAll),
        torch_ms_max: Math.max(...torchAll),
        baseline: c.baseline,
        refused,
      });
    }
  }
}

const TARGETS = { step_ratio: 3.5, forward_ratio: 2.5, step_roofline_fraction: 0.7 };
const targets = threadList.map((t) => {
  const get = (id: string) => rows.find((r) => r.case === id && r.threads === t && r.backend === 'wasm');
  const mm = get('matmul');
  const step = get('step_vit_tiny');
  const fwd = get('forward_vit_tiny');
  const frac = step && mm ? step.tfjs_gflops / mm.tfjs_gflops : NaN;
  // A refused row meets no target: its ratio is not known.
  const ratioOf = (r: Row | undefined) => (r && !r.refused ? r.ratio : NaN);
  return {
    threads: t,
    step_ratio: ratioOf(step),
    step_ratio_ok: ratioOf(step) <= TARGETS.step_ratio,
    forward_ratio: ratioOf(fwd),
    forward_ratio_ok: ratioOf(fwd) <= TARGETS.forward_ratio,
    step_roofline_fraction: frac,
    step_roofline_ok: frac >= TARGETS.step_roofline_fraction,
  };
});

/** The tensorflow backend's targets: step within 1.5x of PyTorch at equal threads, and faster than wasm. */
function tensorflowSummary(): string[] {
  const lines = ['Targets (native backend): tensorflow step ≤ 1.5× torch, and faster than the wasm step, at equal threads.', '', '| T | tensorflow step ÷ torch | tensorflow step ÷ wasm step |', '|---|---|---|'];
  for (const t of threadList) {
    const tfStep = rows.find((r) => r.case === 'step_vit_tiny' && r.threads === t && r.backend === 'tensorflow');
    const wasmStep = rows.find((r) => r.case === 'step_vit_tiny' && r.threads === t && r.backend === 'wasm');
    const vsWasm = tfStep && wasmStep ? tfStep.tfjs_ms / wasmStep.tfjs_ms : NaN;
    const ratio = tfStep && !tfStep.refused ? tfStep.ratio : NaN;
    lines.push(`| ${t} | ${tfStep?.refused ? `refused: ${tfStep.refused}` : `${fmt(ratio, 2)} ${ratio <= 1.5 ? '✓' : '✗'}`} | ${fmt(vsWasm, 2)} ${vsWasm < 1 ? '✓' : '✗'} |`);
  }
  return [...lines, ''];
}

/** The build of our SIMD kernels the wasm children reported (simd or relaxed-simd). */
const wasmKernels = [...samples.values()].flat().map((s) => s.wasm?.kernels).find((v): v is string => typeof v === 'string') ?? '';

const md = [
  `# selfpatch-ts performance suite (${new Date().toISOString().slice(0, 10)})`,
  '',
  `tfjs (wasm: SIMD, our kernels' ${wasmKernels || 'unreported'} build, T > 1 the threaded build; tensorflow: tfjs-node, T intra-op threads) against PyTorch ${process.env.TORCH_VERSION ?? ''}CPU (Debian python3-torch, OpenBLAS core ${openblas.core}) at the same thread count T; ${rounds} interleaved round(s), medians; ratio = tfjs ms ÷ torch ms per round, median [min–max]. GFLOP = 2 × multiply-adds of the model.`,
  '',
  `Torch twin check (same weights and crops, the losses of two iterations): ${check.ok ? 'ok' : 'FAILED'} — tfjs ${fmt(check.tfjs_loss, 6)}, ${fmt(check.tfjs_loss1, 6)}; torch ${fmt(check.torch_loss, 6)}, ${fmt(check.torch_loss1, 6)}; max |Δ| ${typeof check.abs_diff === 'number' ? check.abs_diff.toExponential(1) : check.error}`,
  '',
  `Host: ${host.model}, ${host.cores} logical cores, flags ${host.flags.join(' ') || 'unknown'}. tfjs backends: ${backends.join(', ')}.`,
  '',
  'Times are median [min–max] over the rounds. A ratio is refused when a side\'s rounds spread over 25%, a round took twice its previous one, torch at 2 threads was not faster than at 1, or the baseline is not verified (bench/sanity.ts).',
  '',
  '| case | backend | T | GFLOP | tfjs ms | torch ms | ratio [min–max] | tfjs GFLOP/s | torch GFLOP/s | wasm heap MB | baseline |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.label} | ${r.backend} | ${r.threads} | ${r.gflop.toFixed(1)} | ${fmt(r.tfjs_ms)} [${fmt(r.tfjs_ms_min)}–${fmt(r.tfjs_ms_max)}] | ${fmt(r.torch_ms)} [${fmt(r.torch_ms_min)}–${fmt(r.torch_ms_max)}] | ${r.refused ? `refused: ${r.refused}` : `${fmt(r.ratio, 2)} [${fmt(r.ratio_min, 2)}–${fmt(r.ratio_max, 2)}]`} | ${fmt(r.tfjs_gflops, 1)} | ${fmt(r.torch_gflops, 1)} | ${fmt(r.tfjs_heap_mb)} | ${r.baseline} |${r.errors.length ? ` errors: ${r.errors.join('; ')}` : ''}`,
  ),
  '',
  ...(backends.includes('tensorflow') ? tensorflowSummary() : []),
  '',
  `Targets (CPU training, wasm): step ≤ ${TARGETS.step_ratio}× torch, forward (ViT-Ti) ≤ ${TARGETS.forward_ratio}× torch, step GFLOP/s ≥ ${TARGETS.step_roofline_fraction * 100}% of the raw wasm matMul.`,
  '',
  '| T | step ÷ torch | forward ÷ torch | step GFLOP/s ÷ raw matMul GFLOP/s |',
  '|---|---|---|---|',
  ...targets.map(
    (t) =>
      `| ${t.threads} | ${fmt(t.step_ratio, 2)} ${t.step_ratio_ok ? '✓' : '✗'} | ${fmt(t.forward_ratio, 2)} ${t.forward_ratio_ok ? '✓' : '✗'} | ${fmt(t.step_roofline_fraction * 100, 1)}% ${t.step_roofline_ok ? '✓' : '✗'} |`,
  ),
].join('\n');

console.log(md);
// Per host: the same machine kind has changed CPU between sessions; results never mix hosts.
// A subset run keeps its own file, so it never replaces the full table.
const name = quick ? 'latest-quick' : process.env.BENCH_CASES ? `latest-${caseFilter.join('-')}` : 'latest';
const json = JSON.stringify({ date: new Date().toISOString(), host, openblas_core: openblas.core, backends, wasm_kernels: wasmKernels || null, rounds, threads: threadList, config: { stepBatch, stepLocal, stepMicro, steps, stepsTensorflow: stepsOf("tensorflow"), fwdBatch, outDim, patchOutDim }, twin_check: check, rows, targets }, null, 2);
for (const outDir of [join(here, 'results'), join(here, 'results', 'hosts', host.slug)]) {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, `${name}.json`), json);
  writeFileSync(join(outDir, `${name}.md`), `${md}\n`);
}
if (!check.ok || rows.some((r) => r.rounds_ok === 0)) process.exitCode = 1;
