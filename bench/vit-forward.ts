/**
 * Benchmark: ViT-Ti/16 and ViT-S/16 forward (eval, fp32) on tfjs-wasm against the same network in
 * PyTorch CPU (Debian python3-torch) measured in the same run. Each measurement is a separate
 * process; tfjs and torch runs are interleaved per round and medians are reported (docs/tfjs-backends.md §4,
 * §6: the machines are noisy, treat ratios as ±25%).
 *
 *   npm run bench -w @selfpatch/bench            # or: node --conditions=source --import tsx bench/vit-forward.ts
 *   BENCH_ROUNDS=5 BENCH_REPEATS=3 BENCH_THREADS=1
 *
 * Writes bench/results/vit-forward.json and prints a markdown table.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostDescription, openblasEnv } from './sanity.js';

const here = dirname(fileURLToPath(import.meta.url));
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const repeats = Number(process.env.BENCH_REPEATS ?? 3);
const threads = Number(process.env.BENCH_THREADS ?? 1);
const python = process.env.SELFPATCH_PYTHON ?? '/usr/bin/python3';
const openblas = openblasEnv(python, hostDescription().flags);

const ARCH = { vit_tiny: [192, 12, 3], vit_small: [384, 12, 6] } as const;
const CASES: Array<{ arch: keyof typeof ARCH; batch: number; h: number; w: number }> = [
  { arch: 'vit_tiny', batch: 1, h: 224, w: 224 },
  { arch: 'vit_tiny', batch: 8, h: 224, w: 224 },
  { arch: 'vit_tiny', batch: 1, h: 480, w: 832 },
  { arch: 'vit_small', batch: 1, h: 224, w: 224 },
  { arch: 'vit_small', batch: 1, h: 480, w: 832 },
];

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Record<string, number> {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 24 });
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.slice(-2000)}`);
  return JSON.parse(line) as Record<string, number>;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

interface Row {
  case: string;
  tfjs_ms: number;
  torch_ms: number;
  ratio: number;
  ratio_range: [number, number];
  wasm_heap_mb: number;
  peak_tensor_mb: number;
  torch_rss_mb: number;
}

const rows: Row[] = [];
for (const c of CASES) {
  const [embed, depth, heads] = ARCH[c.arch];
  const tf: Array<Record<string, number>> = [];
  const th: Array<Record<string, number>> = [];
  for (let r = 0; r < rounds; r++) {
    tf.push(run(process.execPath, ['--conditions=source', '--import', 'tsx', join(here, 'vit-forward-child.ts'), c.arch, String(c.batch), String(c.h), String(c.w), String(repeats), 'wasm']));
    th.push(
      run(python, [join(here, 'py/vit_forward.py'), String(embed), String(depth), String(heads), String(c.batch), String(c.h), String(c.w), String(threads), String(repeats)], {
        OMP_WAIT_POLICY: 'PASSIVE',
        OPENBLAS_NUM_THREADS: String(threads),
        ...openblas.env,
      }),
    );
  }
  const ratios = tf.map((t, i) => (t.ms as number) / ((th[i] as Record<string, number>).ms as number));
  rows.push({
    case: `${c.arch}/16 b${c.batch} ${c.h}x${c.w}`,
    tfjs_ms: median(tf.map((t) => t.ms as number)),
    torch_ms: median(th.map((t) => t.ms as number)),
    ratio: median(ratios),
    ratio_range: [Math.min(...ratios), Math.max(...ratios)],
    wasm_heap_mb: Math.max(...tf.map((t) => t.heap_mb as number)),
    peak_tensor_mb: Math.max(...tf.map((t) => t.peak_tensor_mb as number)),
    torch_rss_mb: Math.max(...th.map((t) => t.rss_mb as number)),
  });
  console.error(`done ${rows[rows.length - 1]?.case}`);
}

const table = [
  `ViT forward, eval, fp32; tfjs-wasm (SIMD, 1 thread) vs torch ${threads} thread(s); ${rounds} interleaved rounds × ${repeats} repeats, medians`,
  '',
  '| case | tfjs-wasm ms | torch ms | wasm ÷ torch [min–max] | wasm heap MB | peak live tensors MB | torch RSS MB |',
  '|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.case} | ${r.tfjs_ms.toFixed(0)} | ${r.torch_ms.toFixed(0)} | ${r.ratio.toFixed(2)} [${r.ratio_range[0].toFixed(2)}–${r.ratio_range[1].toFixed(2)}] | ${r.wasm_heap_mb.toFixed(0)} | ${r.peak_tensor_mb.toFixed(0)} | ${r.torch_rss_mb.toFixed(0)} |`,
  ),
].join('\n');
console.log(table);
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'vit-forward.json'), JSON.stringify({ date: new Date().toISOString(), rounds, repeats, threads, rows }, null, 2));
writeFileSync(join(here, 'results', 'vit-forward.md'), `${table}\n`);
