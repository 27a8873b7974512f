/**
 * Fault injection for `selfpatch-train` (`npm run test:faults`): replays, through the real CLI,
 * the failures a training run meets in practice and checks that none loses data.
 *
 * - SIGINT and SIGKILL at random points on wasm and cpu, then `--resume`: the final checkpoint's
 *   tensors are bit-identical to those of an uninterrupted run.
 * - ENOSPC (a small tmpfs as the output folder): exit 4, the error names the file, the previous
 *   checkpoint is intact and resumable, no temp file is left.
 * - A read-only output folder (tmpfs remounted read-only) on `--resume`: exit 4 in one line.
 * - A data folder with fewer decodable images than a batch: exit 2 in one line, nothing written.
 *
 * Mounting needs root (CI runs as root); without it the mount cases fail rather than skip.
 * `SELFPATCH_FAULT_SEED` replays a run's random kill points; `SELFPATCH_FAULT_BACKENDS` picks
 * backends (default `wasm,cpu`). Ends with the plain `N passed, M failed` line.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSafetensors } from '@selfpatch/checkpoint';
import { Rng } from '@selfpatch/nn';

const root = fileURLToPath(new URL('../..', import.meta.url));
const trainMain = join(root, 'apps', 'train', 'src', 'main.ts');
const demo = join(root, 'packages', 'data', 'demo', 'photos');
const STEPS = 8;
const TINY = ['--patch-size', '8', '--embed-dim', '48', '--depth', '2', '--num-heads', '2', '--global-crop-size', '32', '--local-crop-size', '24', '--out-dim', '256', '--out-dim-selfpatch', '128', '--hidden-dim', '64', '--bottleneck-dim', '32', '--epochs', '4', '--max-steps', String(STEPS), '--save-every', '2', '--log-every', '1'];

const seed = Number(process.env.SELFPATCH_FAULT_SEED ?? Date.now() % 100000);
const rng = new Rng(seed);
const backends = (process.env.SELFPATCH_FAULT_BACKENDS ?? 'wasm,cpu').split(',').filter(Boolean);
let passed = 0;
let failed = 0;

function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `selfpatch-faults-${prefix}-`));
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
}

/** Runs the CLI; `onStep(k, child)` sees each completed step (to inject a fault). */
function train(args: string[], onStep?: (step: number, kill: (s: NodeJS.Signals) => void) => void): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', trainMain, ...TINY, ...args], { cwd: root });
    let stderr = '';
    let stdout = '';
    let seen = 0;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      for (const m of stderr.matchAll(/step (\d+)\//g)) {
        const k = Number(m[1]);
        if (k > seen) {
          seen = k;
          onStep?.(k, (s) => child.kill(s));
        }
      }
    });
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('exit', (code, signal) => resolve({ code, signal, stderr, stdout }));
  });
}

function finalTensors(out: string): Map<string, Float32Array | Int32Array | Uint8Array> {
  const dir = join(out, 'checkpoints');
  const files = readdirSync(dir).filter((f) => /^checkpoint-\d+\.safetensors$/.test(f)).sort();
  const last = files[files.length - 1];
  if (!last || last !== `checkpoint-${String(STEPS).padStart(8, '0')}.safetensors`) throw new Error(`no final checkpoint in ${dir} (have ${files.join(', ')})`);
  const { tensors } = parseSafetensors(readFileSync(join(dir, last)));
  return new Map([...tensors].map(([k, t]) => [k, t.data as Float32Array]));
}

/** Number of tensors whose bits differ (0 = bit-identical). */
function bitDiff(a: Map<string, ArrayLike<number>>, b: Map<string, ArrayLike<number>>): string[] {
  const bad: string[] = [];
  for (const [k, x] of a) {
    const y = b.get(k);
    if (!y || y.length !== x.length) {
      bad.push(k);
      continue;
    }
    const xb = new Uint8Array((x as Float32Array).buffer, (x as Float32Array).byteOffset, (x as Float32Array).byteLength);
    const yb = new Uint8Array((y as Float32Array).buffer, (y as Float32Array).byteOffset, (y as Float32Array).byteLength);
    if (!xb.every((v, i) => v === yb[i])) bad.push(k);
  }
  if (b.size !== a.size) bad.push(`(${a.size} vs ${b.size} tensors)`);
  return bad;
}

async function check(name: string, fn: () => Promise<void>): Promise<void> {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}: ${(err as Error).message}`);
  }
}

function expect(cond: boolean, what: string, run?: Run): void {
  if (!cond) throw new Error(`${what}${run ? `\n  exit ${run.code} signal ${run.signal}\n  stderr: ${run.stderr.slice(-1500)}` : ''}`);
}

function oneLine(run: Run): void {
  expect(!/\n\s+at /.test(run.stderr), 'no stack trace', run);
}

function mount(dir: string, sizeKb: number): void {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot mount a tmpfs at ${dir} (these cases need root): ${r.stderr.trim()}`);
}

function umount(dir: string): void {
  spawnSync('umount', ['-l', dir]);
}

/** Resumes until the run completes (a SIGKILL before the first checkpoint means a fresh start). */
async function resumeToEnd(out: string, backend: string): Promise<void> {
  const hasCheckpoint = existsSync(join(out, 'checkpoints')) && readdirSync(join(out, 'checkpoints')).some((f) => f.endsWith('.safetensors'));
  const r = await train(['--backend', backend, '--out', out, ...(hasCheckpoint ? ['--resume'] : [])]);
  expect(r.code === 0, `--resume completes (exit 0)`, r);
}

async function runAll(): Promise<void> {
  console.log(`fault injection, seed ${seed} (SELFPATCH_FAULT_SEED=${seed} replays it), backends ${backends.join(', ')}`);
  for (const backend of backends) {
    const refOut = join(tmp(`ref-${backend}`), 'run');
    const ref = await train(['--backend', backend, '--out', refOut]);
    let reference: Map<string, ArrayLike<number>> | null = null;
    await check(`[${backend}] uninterrupted reference run`, async () => {
      expect(ref.code === 0, 'exit 0', ref);
      reference = finalTensors(refOut);
    });
    if (!reference) continue;
    const refTensors: Map<string, ArrayLike<number>> = reference;

    const intAt = 1 + Math.floor(rng.uniform() * (STEPS - 2));
    await check(`[${backend}] SIGINT after step ${intAt}, then --resume: bit-identical final checkpoint`, async () => {
      const out = join(tmp(`int-${backend}`), 'run');
      let sent = false;
      const r = await train(['--backend', backend, '--out', out], (k, kill) => {
        if (!sent && k >= intAt) {
          sent = true;
          kill('SIGINT');
        }
      });
      expect(r.code === 130, 'exit 130 after SIGINT', r);
      expect(/interrupted at step/.test(r.stderr), 'says where it stopped', r);
      await resumeToEnd(out, backend);
      const diff = bitDiff(refTensors, finalTensors(out));
      expect(diff.length === 0, `tensors differ from the uninterrupted run: ${diff.slice(0, 5).join(', ')}`);
    });

    const killAt = 1 + Math.floor(rng.uniform() * (STEPS - 2));
    const killDelay = Math.floor(rng.uniform() * 400);
    await check(`[${backend}] SIGKILL ${killDelay} ms after step ${killAt}, then --resume: bit-identical final checkpoint`, async () => {
      const out = join(tmp(`kill-${backend}`), 'run');
      let sent = false;
      const r = await train(['--backend', backend, '--out', out], (k, kill) => {
        if (!sent && k >= killAt) {
          sent = true;
          setTimeout(() => kill('SIGKILL'), killDelay);
        }
      });
      expect(r.signal === 'SIGKILL' || r.code === 0, 'killed (or finished first)', r);
      await resumeToEnd(out, backend);
      const diff = bitDiff(refTensors, finalTensors(out));
      expect(diff.length === 0, `tensors differ from the uninterrupted run: ${diff.slice(0, 5).join(', ')}`);
    });
  }

  await check('ENOSPC: exit 4 naming the file; the previous checkpoint stays intact and resumable', async () => {
    const mnt = tmp('enospc');
    // Room for the run's small files and one 2.5 MB checkpoint, not for the second.
    mount(mnt, 4096);
    try {
      const out = join(mnt, 'run');
      const r = await train(['--backend', 'wasm', '--out', out]);
      expect(r.code === 4, 'exit 4', r);
      expect(/could not write .*checkpoint-0000000\d\.safetensors/.test(r.stderr), 'names the checkpoint file', r);
      expect(/The last checkpoint, .*checkpoint-00000002\.safetensors, is intact/.test(r.stderr), 'names the intact checkpoint', r);
      oneLine(r);
      const left = readdirSync(join(out, 'checkpoints'));
      expect(!left.some((f) => f.endsWith('.tmp')), `no temp file left (${left.join(', ')})`);
      // Copy out and finish elsewhere: the kept checkpoint is a real resume point.
      const moved = join(tmp('enospc-moved'), 'run');
      mkdirSync(join(moved, 'checkpoints'), { recursive: true });
      for (const f of readdirSync(out)) if (f.endsWith('.jsonl') || f.endsWith('.json')) copyFileSync(join(out, f), join(moved, f));
      for (const f of left) copyFileSync(join(out, 'checkpoints', f), join(moved, 'checkpoints', f));
      const again = await train(['--backend', 'wasm', '--out', moved, '--resume']);
      expect(again.code === 0 && /resumed from .*checkpoint-00000002/.test(again.stderr), 'resumes from it', again);
    } finally {
      umount(mnt);
    }
  });

  await check('read-only output folder on --resume: exit 4 in one line', async () => {
    const mnt = tmp('erofs');
    mount(mnt, 16384);
    try {
      const out = join(mnt, 'run');
      const first = await train(['--backend', 'cpu', '--out', out, '--max-steps', '2']);
      expect(first.code === 0, 'first part runs', first);
      const ro = spawnSync('mount', ['-o', 'remount,ro', mnt], { encoding: 'utf8' });
      expect(ro.status === 0, `remount read-only: ${ro.stderr}`);
      const r = await train(['--backend', 'cpu', '--out', out, '--max-steps', '4', '--resume']);
      expect(r.code === 4, 'exit 4', r);
      expect(/could not write .*(EROFS|read-only)/i.test(r.stderr), 'says the folder is read-only', r);
      oneLine(r);
    } finally {
      umount(mnt);
    }
  });

  await check('a data folder with fewer decodable images than a batch: exit 2 at once, nothing written', async () => {
    const data = tmp('baddata');
    for (const f of readdirSync(demo).slice(0, 3)) copyFileSync(join(demo, f), join(data, f));
    writeFileSync(join(data, 'renamed.png'), 'this is text, not an image');
    const out = join(tmp('baddata-out'), 'run');
    const t0 = Date.now();
    const r = await train(['--backend', 'wasm', '--data', data, '--batch-size', '4', '--out', out]);
    expect(r.code === 2, 'exit 2', r);
    expect(/only 3 of the 4 image files decode/.test(r.stderr), 'counts decoded and skipped files', r);
    expect(Date.now() - t0 < 60_000, 'no hang');
    expect(!existsSync(out), 'no run folder left behind');
    oneLine(r);
  });

  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 ? 1 : 0;
}

await runAll();
