/**
 * Benchmark: one DINO+SelfPatch training step (ViT-Ti/16, official heads 65536/4096, 2×224 + 8×96
 * crops) on tfjs-wasm, tuned (wasm-friendly ops, micro-batched student) against the same step
 * on stock tfjs-wasm kernels (no fused kernels, one taped graph) measured in the same run.
 * Each measurement is its own process, interleaved per round; medians reported.
 *
 *   node --conditions=source --import tsx bench/train-step.ts
 *   BENCH_ROUNDS (2) BENCH_STEPS (2) BENCH_BATCH (4) BENCH_BASELINE_BATCH (2) BENCH_LOCAL (8) BENCH_MICRO (8)
 *
 * The naive baseline runs at a smaller batch when its single graph would not fit the 4 GB heap;
 * the ratio compares the two at that batch. Writes bench/results/train-step.{json,md}.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const env = (k: string, d: number) => Number(process.env[k] ?? d);
const rounds = env('BENCH_ROUNDS', 2);
const steps = env('BENCH_STEPS', 2);
const batch = env('BENCH_BATCH', 4);
const baseBatch = env('BENCH_BASELINE_BATCH', 2);
const nLocal = env('BENCH_LOCAL', 8);
const micro = env('BENCH_MICRO', 8);

interface Result {
  ms: number;
  heap_mb: number;
  tensors: number[];
  losses: number[];
}

function run(args: string[]): Result | { error: string } {
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', join(here, 'train-step-child.ts'), ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) return { error: (r.stderr.split('\n').find((l) => /Error|abort|memory/i.test(l)) ?? `exit ${r.status}`).slice(0, 200) };
  return JSON.parse(line) as Result;
}

const cases = [
  { name: `tuned b${batch} (micro-batch ${micro})`, args: ['tuned', String(batch), String(nLocal), String(steps), String(micro)] },
  { name: `tuned b${baseBatch} (micro-batch ${micro})`, args: ['tuned', String(baseBatch), String(nLocal), String(steps), String(micro)] },
  { name: `naive b${baseBatch} (single graph, stock kernels)`, args: ['naive', String(baseBatch), String(nLocal), String(steps)] },
];
const results: Record<string, Array<Result | { error: string }>> = {};
for (let r = 0; r < rounds; r++) {
  for (const c of cases) {
    (results[c.name] ??= []).push(run(c.args));
    console.error(`round ${r} ${c.name} done`);
  }
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const ok = (rs: Array<Result | { error: string }>) => rs.filter((x): x is Result => 'ms' in x);
const rows = cases.map((c) => {
  const rs = ok(results[c.name] ?? []);
  const errors = (results[c.name] ?? []).filter((x): x is { error: string } => 'error' in x).map((e) => e.error);
  const flat = rs.every((x) => x.tensors.every((t) => t === x.tensors[0]));
  return {
    case: c.name,
    ms: rs.length ? median(rs.map((x) => x.ms)) : NaN,
    heap_mb: rs.length ? Math.max(...rs.map((x) => x.heap_mb)) : NaN,
    tensors_flat: rs.length > 0 && flat,
    loss_finite: rs.every((x) => x.losses.every(Number.isFinite)),
    errors,
  };
});
const tunedBase = ok(results[cases[1]!.name] ?? []);
const naive = ok(results[cases[2]!.name] ?? []);
const ratios = naive.map((n, i) => n.ms / (tunedBase[i]?.ms ?? NaN)).filter(Number.isFinite);
const lines = [
  `DINO+SelfPatch step, ViT-Ti/16, heads 65536/4096, 2×224 + ${nLocal}×96 crops, tfjs-wasm 1 thread; ${rounds} interleaved rounds × ${steps} timed steps (after 2 warm-up steps)`,
  '',
  '| case | ms/step | img/s | peak wasm heap MB | tensors flat | loss finite | errors |',
  '|---|---|---|---|---|---|---|',
  ...rows.map((r) => {
    const b = Number(/b(\d+)/.exec(r.case)?.[1]);
    return `| ${r.case} | ${r.ms.toFixed(0)} | ${((b * 1000) / r.ms).toFixed(2)} | ${r.heap_mb.toFixed(0)} | ${r.tensors_flat} | ${r.loss_finite} | ${r.errors.join('; ')} |`;
  }),
  '',
  ratios.length ? `naive ÷ tuned at b${baseBatch}: ${median(ratios).toFixed(2)}× [${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}] (per round)` : 'naive baseline did not complete (see errors)',
];
console.log(lines.join('\n'));
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'train-step.json'), JSON.stringify({ date: new Date().toISOString(), rounds, steps, batch, baseBatch, nLocal, micro, rows, ratios }, null, 2));
writeFileSync(join(here, 'results', 'train-step.md'), `${lines.join('\n')}\n`);
