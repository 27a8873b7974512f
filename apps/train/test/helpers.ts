import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSafetensors } from '@selfpatch/checkpoint';
import type { RawTensor } from '@selfpatch/nn';
import { resolveConfig, type TrainConfig } from '../src/config.js';

export function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `selfpatch-train-${prefix}-`));
}

/**
 * The demo preset shrunk so a step takes well under a second (patch 8, 32/24 px crops → 4×4 and
 * 3×3 grids, 2 blocks of width 48): same code paths, test-sized.
 */
export function tinyConfig(over: Partial<TrainConfig> = {}): TrainConfig {
  return resolveConfig('demo', {
    patch_size: 8,
    embed_dim: 48,
    depth: 2,
    num_heads: 2,
    global_crop_size: 32,
    local_crop_size: 24,
    out_dim: 256,
    out_dim_selfpatch: 128,
    hidden_dim: 64,
    bottleneck_dim: 32,
    epochs: 4,
    warmup_epochs: 1,
    save_every: 2,
    num_workers: 1,
    ...over,
  });
}

/** A tiny MoBY+SelfPatch Swin config (2 stages, 32 px views, window 4). */
export function tinySwinConfig(over: Partial<TrainConfig> = {}): TrainConfig {
  return resolveConfig('swin_tiny_moby+selfpatch', {
    data: '',
    embed_dim: 16,
    swin_depths: [2, 2],
    swin_num_heads: [2, 4],
    window_size: 4,
    global_crop_size: 32,
    moby_inner_dim: 64,
    moby_out_dim: 32,
    contrast_num_negative: 16,
    out_dim_selfpatch: 64,
    hidden_dim: 64,
    bottleneck_dim: 32,
    batch_size: 4,
    epochs: 3,
    warmup_epochs: 1,
    save_every: 2,
    log_every: 1,
    num_workers: 0,
    ...over,
  });
}

export function readTensors(path: string): Map<string, RawTensor> {
  return parseSafetensors(readFileSync(path), { source: path }).tensors;
}

/** Largest |a − b| over every tensor of two files with identical keys (throws if keys differ). */
export function maxDiffAll(a: Map<string, RawTensor>, b: Map<string, RawTensor>): number {
  const ka = [...a.keys()].sort();
  const kb = [...b.keys()].sort();
  if (JSON.stringify(ka) !== JSON.stringify(kb)) throw new Error('different tensor keys');
  let m = 0;
  for (const k of ka) {
    const x = (a.get(k) as RawTensor).data;
    const y = (b.get(k) as RawTensor).data;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(Number(x[i]) - Number(y[i])));
  }
  return m;
}

/**
 * Runs the training CLI and sends SIGINT once stderr shows `step <at>/`; resolves with the exit
 * code and stderr/stdout.
 */
export function interruptAfterStep(args: string[], at: number, cwd: string, main: string): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', main, ...args], { cwd });
  let stderr = '';
  let stdout = '';
  let sent = false;
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (!sent && new RegExp(`step ${at}/`).test(stderr)) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  return new Promise((res) => child.on('exit', (code) => res({ code, stderr, stdout })));
}
