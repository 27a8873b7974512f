/**
 * Backend selection for apps (DESIGN §5). Packages never pick a backend; apps call
 * {@link initBackend} once at start-up.
 *
 * `auto`: `tensorflow` when `@tensorflow/tfjs-node-gpu` or `@tensorflow/tfjs-node` is installed
 * and loads, else `wasm`, else `cpu`. An explicit choice that cannot load fails with a message
 * that says what to install. The native packages are optional peers: their install downloads
 * libtensorflow, which is not possible everywhere.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError, ConfigError } from './errors.js';
import { installWasmKernels } from './wasm-kernels.js';
import type { WasmModuleLike } from './wasm-threads-node.js';

export const BACKEND_CHOICES = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
export type BackendName = Exclude<BackendChoice, 'auto'>;

export interface BackendInfo {
  /** The active tfjs backend. */
  name: BackendName;
  /** Human-readable reason for the choice (print it). */
  reason: string;
  /** XNNPACK threads of the wasm backend; 1 elsewhere. */
  threads: number;
}

/** One line for logs: `wasm, 2 threads (requested)`. */
export function describeBackend(info: BackendInfo): string {
  const threads = info.name === 'wasm' ? `, ${info.threads} thread${info.threads > 1 ? 's' : ''}` : '';
  return `${info.name}${threads} (${info.reason})`;
}

/** Loads a module by specifier; injectable for tests. */
export type ModuleImporter = (specifier: string) => Promise<unknown>;

export interface InitBackendOptions {
  importer?: ModuleImporter;
  /**
   * XNNPACK threads for the wasm backend (default 1). Above 1, Node runs the threaded-SIMD binary
   * on `worker_threads` (TFJS_NOTES §1.3); the workers never hold the process open. Matrix
   * products and convolutions use the extra threads, and so do the large calls of the SIMD
   * elementwise kernels (simd-threads-node.ts); a busy second core makes it slower, so it is
   * opt-in. Ignored by the other backends.
   */
  threads?: number;
}

const defaultImporter: ModuleImporter = (specifier) => import(specifier);

const INSTALL_HINT: Record<BackendName, string> = {
  tensorflow:
    'install @tensorflow/tfjs-node-gpu (CUDA) or @tensorflow/tfjs-node (native CPU); their install downloads libtensorflow, so it needs network access to Google storage',
  wasm: 'install @tensorflow/tfjs-backend-wasm',
  cpu: 'install @tensorflow/tfjs-backend-cpu',
};

async function tryTensorflow(importer: ModuleImporter): Promise<{ ok: true; pkg: string } | { ok: false; why: string }> {
  const errors: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await importer(pkg);
      if (await tf.setBackend('tensorflow')) return { ok: true, pkg };
      errors.push(`${pkg} loaded but the 'tensorflow' backend failed to initialise`);
    } catch (err) {
      errors.push(`${pkg}: ${firstLine(err)}`);
    }
  }
  return { ok: false, why: errors.join('; ') };
}

async function tryPlain(name: 'wasm' | 'cpu', importer: ModuleImporter, threads: number): Promise<string | null> {
  const pkg = name === 'wasm' ? '@tensorflow/tfjs-backend-wasm' : '@tensorflow/tfjs-backend-cpu';
  try {
    const mod = await importer(pkg);
    if (name === 'wasm') installWasmKernels();
    if (name === 'wasm' && threads > 1) {
      if (!tf.env().getBool('IS_NODE')) throw new Error('threads > 1 is only wired up for Node here');
      const { setWasmBackendThreaded } = await import('./wasm-threads-node.js');
      const got = await setWasmBackendThreaded(mod as WasmModuleLike, threads);
      // The SIMD kernels (GELU, exp, AdamW, EMA) split large calls over as many threads.
      const { startSimdKernelThreads } = await import('./simd-threads-node.js');
      await startSimdKernelThreads(got);
      return null;
    }
    if (await tf.setBackend(name)) return null;
    return `${pkg} loaded but the '${name}' backend failed to initialise`;
  } catch (err) {
    return `${pkg}: ${firstLine(err)}`;
  }
}

function wasmThreads(): number {
  const mod = tf.findBackend('wasm') as unknown as { wasm?: { tfjs?: { getThreadsCount?: () => number } } } | null;
  return mod?.wasm?.tfjs?.getThreadsCount?.() ?? 1;
}

function checkThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1 || threads > 8) {
    throw new ConfigError('threads', `expected an integer from 1 to 8 (XNNPACK's limit), got ${threads}`);
  }
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}

/**
 * Loads and activates a tfjs backend.
 *
 * @example
 * ```ts
 * import { initBackend } from '@selfpatch/nn/runtime';
 * const info = await initBackend('auto');
 * console.log(`backend: ${info.name} (${info.reason})`);
 * // two XNNPACK threads on wasm (Node): await initBackend('wasm', { threads: 2 });
 * ```
 */
export async function initBackend(choice: string = 'auto', options: InitBackendOptions = {}): Promise<BackendInfo> {
  if (!(BACKEND_CHOICES as readonly string[]).includes(choice)) {
    throw new ConfigError('backend', `expected one of ${BACKEND_CHOICES.join(', ')}, got '${choice}'`);
  }
  const importer = options.importer ?? defaultImporter;
  const threads = options.threads ?? 1;
  checkThreads(threads);
  const done = (name: BackendName, reason: string): BackendInfo => ({
    name,
    reason,
    threads: name === 'wasm' ? wasmThreads() : 1,
  });
  if (choice === 'tensorflow') {
    const r = await tryTensorflow(importer);
    if (r.ok) return done('tensorflow', `requested; using ${r.pkg}`);
    throw new BackendUnavailableError('tensorflow', `backend 'tensorflow' is not available (${r.why}); ${INSTALL_HINT.tensorflow}`);
  }
  if (choice === 'wasm' || choice === 'cpu') {
    const why = await tryPlain(choice, importer, threads);
    if (why === null) return done(choice, 'requested');
    throw new BackendUnavailableError(choice, `backend '${choice}' is not available (${why}); ${INSTALL_HINT[choice]}`);
  }
  const tfr = await tryTensorflow(importer);
  if (tfr.ok) return done('tensorflow', `auto: ${tfr.pkg} is installed`);
  const wasmWhy = await tryPlain('wasm', importer, threads);
  if (wasmWhy === null) {
    return done('wasm', 'auto: no native TensorFlow binding installed (@tensorflow/tfjs-node[-gpu]); using WebAssembly');
  }
  const cpuWhy = await tryPlain('cpu', importer, 1);
  if (cpuWhy === null) return done('cpu', `auto: wasm unavailable (${wasmWhy}); using the slow pure-JS cpu backend`);
  throw new BackendUnavailableError('auto', `no tfjs backend could be loaded: tensorflow (${tfr.why}); wasm (${wasmWhy}); cpu (${cpuWhy})`);
}
