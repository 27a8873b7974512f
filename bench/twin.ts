/**
 * The torch-twin check shared by bench/suite.ts and bench/test: bench/twin-check.ts runs two
 * Trainer iterations of a small SelfPatch DINO and writes its initial weights and crops;
 * bench/py/selfpatch_step.py `check` runs the same two iterations in PyTorch from them. Equal losses
 * (|Δ| ≤ 1e-4) mean the benchmark's PyTorch baseline does the same work as the tfjs step.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export type Json = Record<string, unknown>;

/** Runs a command that prints one JSON line last; `{ error }` when it fails. */
export function runProc(cmd: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Json {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...extraEnv }, maxBuffer: 1 << 26 });
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) {
    const why = r.stderr.split('\n').filter((l) => /Error|abort|memory|exit/i.test(l)).slice(0, 3).join(' | ') || `exit ${r.status}`;
    return { error: why.slice(0, 300) };
  }
  return JSON.parse(line) as Json;
}

export interface TwinCheck {
  ok: boolean;
  error?: string;
  tfjs_loss?: number;
  torch_loss?: number;
  tfjs_loss1?: number;
  torch_loss1?: number;
  abs_diff?: number;
}

export function twinCheck(python: string): TwinCheck {
  const dir = mkdtempSync(join(tmpdir(), 'selfpatch-twin-'));
  try {
    const w = join(dir, 'weights.pth');
    const x = join(dir, 'inputs.pth');
    const ts = runProc(process.execPath, ['--conditions=source', '--import', 'tsx', join(here, 'twin-check.ts'), w, x]);
    if ('error' in ts) return { ok: false, error: `tfjs: ${String(ts.error)}` };
    const py = runProc(python, [join(here, 'py', 'selfpatch_step.py'), 'check', w, x], { OMP_WAIT_POLICY: 'PASSIVE', OPENBLAS_NUM_THREADS: '1' });
    if ('error' in py) return { ok: false, error: `torch: ${String(py.error)}` };
    const [a0, a1, b0, b1] = [ts.loss, ts.loss1, py.loss, py.loss1] as number[];
    const diff = Math.max(Math.abs((a0 as number) - (b0 as number)), Math.abs((a1 as number) - (b1 as number)));
    return { ok: diff <= 1e-4, tfjs_loss: a0, torch_loss: b0, tfjs_loss1: a1, torch_loss1: b1, abs_diff: diff };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
