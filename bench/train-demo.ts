/**
 * Benchmark run (not a test): the `demo` preset of selfpatch-train end to end on wasm (data loader
 * with worker threads, DINO+SelfPatch step, checkpoints, export), for the whole preset schedule,
 * recording that the loss decreases. Baseline in the same run: the same steps with lr = 0 (the
 * network never changes, so any drop there is the schedules and the centering alone).
 *
 *   node --conditions=source --import tsx bench/train-demo.ts      (BENCH_DEMO_STEPS caps the steps)
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '@selfpatch/backend';
import { resolveConfig, train, type MetricsRecord } from '@selfpatch/train';

const here = dirname(fileURLToPath(import.meta.url));
await initBackend('wasm');
const cap = process.env.BENCH_DEMO_STEPS ? Number(process.env.BENCH_DEMO_STEPS) : null;

async function run(label: string, over: Record<string, unknown>): Promise<{ rows: MetricsRecord[]; seconds: number }> {
  const out = mkdtempSync(join(tmpdir(), `bench-demo-${label}-`));
  const rows: MetricsRecord[] = [];
  const t0 = performance.now();
  await train(resolveConfig('demo', { out, max_steps: cap, ...over }), {
    resume: false,
    log: (l) => console.error(l),
    onStep: (m, total) => {
      rows.push(m);
      if (m.step % 10 === 0) console.error(`${label} step ${m.step + 1}/${total} loss ${m.loss.toFixed(4)}`);
    },
  });
  return { rows, seconds: (performance.now() - t0) / 1000 };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const trained = await run('demo', {});
const frozen = await run('lr0', { lr: 1e-30, min_lr: 0 });
const win = Math.max(3, Math.floor(trained.rows.length / 6));
const stats = (rows: MetricsRecord[], key: (r: MetricsRecord) => number) => ({ first: mean(rows.slice(0, win).map(key)), last: mean(rows.slice(-win).map(key)) });
const lines = [
  `selfpatch-train demo preset (ViT-Ti/16, DINO+SelfPatch, 96/48 px crops, batch 4, 12 demo photos), ${trained.rows.length} steps on tfjs-wasm; means over the first/last ${win} steps`,
  '',
  '| run | s total | s/step | loss first → last | cls first → last | patch first → last |',
  '|---|---|---|---|---|---|',
];
const result: Record<string, unknown> = {};
for (const [name, r] of [['demo preset', trained], ['same, lr = 0 (baseline)', frozen]] as const) {
  const l = stats(r.rows, (x) => x.loss);
  const c = stats(r.rows, (x) => x.terms.cls as number);
  const p = stats(r.rows, (x) => x.terms.patch as number);
  result[name] = { loss: l, cls: c, patch: p, seconds: r.seconds, steps: r.rows.length, decreased: l.last < l.first };
  lines.push(`| ${name} | ${r.seconds.toFixed(0)} | ${(r.seconds / r.rows.length).toFixed(2)} | ${l.first.toFixed(4)} → ${l.last.toFixed(4)} | ${c.first.toFixed(4)} → ${c.last.toFixed(4)} | ${p.first.toFixed(4)} → ${p.last.toFixed(4)} |`);
}
console.log(lines.join('\n'));
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'train-demo.json'), JSON.stringify({ date: new Date().toISOString(), result }, null, 2));
writeFileSync(join(here, 'results', 'train-demo.md'), `${lines.join('\n')}\n`);
process.exit(0);
