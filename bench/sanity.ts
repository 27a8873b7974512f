/**
 * Checks that keep the suite from printing a ratio out of a disturbed run: a shared 2-core VM
 * can slow one side for seconds, and a ratio from such a round says nothing about the code.
 * Each check returns the reason it refuses, or null.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Largest run-to-run spread (max ÷ min − 1) of one side's per-round times a ratio is printed from. */
export const MAX_SPREAD = 0.25;

/** `max/min − 1` of per-round times. */
export function spread(ms: number[]): number {
  return ms.length < 2 ? 0 : Math.max(...ms) / Math.min(...ms) - 1;
}

/** Refuses a side whose rounds spread over {@link MAX_SPREAD}, or whose time doubled from one round to the next. */
export function roundsCheck(side: string, ms: number[]): string | null {
  const s = spread(ms);
  if (s > MAX_SPREAD) return `${side} run-to-run spread ${(s * 100).toFixed(0)}% > ${MAX_SPREAD * 100}%`;
  for (let i = 1; i < ms.length; i++) {
    if ((ms[i] as number) >= 2 * (ms[i - 1] as number)) return `${side} round ${i + 1} took ${(ms[i] as number).toFixed(0)} ms, 2× its previous round`;
  }
  return null;
}

/** Refuses a baseline that is not faster with 2 threads than with 1 (another process had the second core). */
export function threadsCheck(side: string, ms1: number, ms2: number): string | null {
  return ms2 >= ms1 ? `${side} at 2 threads (${ms2.toFixed(0)} ms) not faster than at 1 (${ms1.toFixed(0)} ms)` : null;
}

/** CPU model, logical cores and the vector-instruction flags that decide the kernels' speed. */
export function hostDescription(): { model: string; cores: number; flags: string[]; slug: string } {
  const model = cpus()[0]?.model?.trim() ?? 'unknown CPU';
  let flags: string[] = [];
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags')) ?? '';
    const have = new Set(line.split(':')[1]?.trim().split(/\s+/) ?? []);
    flags = ['sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_tile'].filter((f) => have.has(f));
  } catch {
    /* not Linux: the model is all there is */
  }
  const slug = `${model.toLowerCase().replace(/\(r\)|\(tm\)|cpu|processor|@.*$/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')}-${cpus().length}c`;
  return { model, cores: cpus().length, flags, slug };
}

/** OpenBLAS cores without AVX2 kernels: what its CPU detection falls back to on a CPU it does not know. */
const GENERIC_OPENBLAS_CORES = new Set(['prescott', 'katmai', 'coppermine', 'northwood', 'banias', 'core2', 'penryn', 'dunnington', 'nehalem', 'atom', 'sandybridge']);

/**
 * The V8 flags a bench passes on to its Node children: `node --experimental-wasm-relaxed-simd` on
 * Node 20 gives them our kernels' relaxed-SIMD build (Node 22+ has it without the flag).
 */
export function inheritedWasmFlags(): string[] {
  return process.execArgv.filter((a) => a === '--experimental-wasm-relaxed-simd');
}

/**
 * The environment that gives PyTorch's OpenBLAS the kernels this CPU can run. OpenBLAS picks its
 * kernels from the CPU model; on a VM that reports a generic model it falls back to a pre-AVX core
 * (measured on a 2-core "Intel Xeon Processor" VM with AVX-512: core Prescott, a 1024³ product at
 * 18 GFLOP/s on one thread; with OPENBLAS_CORETYPE=SkylakeX 141). Such a baseline is not PyTorch
 * as anyone runs it, so when the detected core is generic and the CPU has AVX-512 or AVX2+FMA the
 * matching core is set. A user's own OPENBLAS_CORETYPE is kept.
 */
export function openblasEnv(python: string, flags: string[]): { env: Record<string, string>; core: string } {
  if (process.env.OPENBLAS_CORETYPE) return { env: {}, core: `${process.env.OPENBLAS_CORETYPE} (OPENBLAS_CORETYPE)` };
  const r = spawnSync(python, ['-c', 'import torch; torch.ones(2, 2) @ torch.ones(2, 2)'], { encoding: 'utf8', env: { ...process.env, OPENBLAS_VERBOSE: '2' } });
  const detected = /Core:\s*(\S+)/.exec(`${r.stdout}\n${r.stderr}`)?.[1] ?? 'unknown';
  const wanted = flags.includes('avx512f') ? 'SkylakeX' : flags.includes('avx2') && flags.includes('fma') ? 'Haswell' : null;
  if (wanted && GENERIC_OPENBLAS_CORES.has(detected.toLowerCase())) return { env: { OPENBLAS_CORETYPE: wanted }, core: `${wanted} (OPENBLAS_CORETYPE; detected ${detected})` };
  return { env: {}, core: detected };
}
