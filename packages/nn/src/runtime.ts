/**
 * Backend selection for apps. Packages never pick a backend; apps call {@link initBackend} once
 * at start-up.
 *
 * `auto`: `tensorflow` when `@tensorflow/tfjs-node-gpu` or `@tensorflow/tfjs-node` is installed
 * and loads, else `webgpu` on a hardware adapter, else `wasm`, else `cpu`. `auto` never takes a
 * software WebGPU adapter (they are for correctness, 100x slower than wasm); an explicit `webgpu`
 * may, and says so. An explicit choice that cannot load fails with a message that says what to
 * install. The native packages are optional peers: their install downloads libtensorflow, which
 * is not possible everywhere (`npm run setup:tfjs-node` builds it offline).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError, ConfigError } from './errors.js';
import { installWasmKernels } from './wasm-kernels.js';
import type { WasmModuleLike } from './wasm-threads-node.js';
import { browserAdapter, type FoundAdapter } from './webgpu-adapter.js';

export const BACKEND_CHOICES = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
export type BackendName = Exclude<BackendChoice, 'auto'>;

export interface BackendInfo {
  /** The active tfjs backend. */
  name: BackendName;
  /** Human-readable reason for the choice (print it). */
  reason: string;
  /** XNNPACK threads of the wasm backend; 1 elsewhere. */
  threads: number;
  /** The WebGPU adapter in use (webgpu only). */
  adapter?: FoundAdapter;
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
    'install @tensorflow/tfjs-node-gpu (CUDA) or @tensorflow/tfjs-node (native CPU); their install downloads libtensorflow (in this repository, `npm run setup:tfjs-node` also builds it offline)',
  webgpu: 'install @tensorflow/tfjs-backend-webgpu, and in Node the `webgpu` package (Dawn); a GPU with a Vulkan, Metal or D3D12 driver gives a hardware adapter',
  wasm: 'install @tensorflow/tfjs-backend-wasm',
  cpu: 'install @tensorflow/tfjs-backend-cpu',
};

async function tryTensorflow(importer: ModuleImporter): Promise<{ ok: true; pkg: string } | { ok: false; why: string }> {
  const errors: string[] = [];
  // libtensorflow's start-up banner (oneDNN, CPU features) is noise in a CLI's output.
  if (typeof process !== 'undefined') process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
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

async function tryWebGPU(importer: ModuleImporter, allowSoftware: boolean): Promise<{ ok: true; adapter: FoundAdapter } | { ok: false; why: string }> {
  try {
    const found = tf.env().getBool('IS_NODE')
      ? await (await import('./webgpu-node.js')).setupNodeWebGPU(importer, allowSoftware)
      : await browserAdapter(allowSoftware);
    if (!found.adapter) return { ok: false, why: found.why };
    await importer('@tensorflow/tfjs-backend-webgpu');
    if (await tf.setBackend('webgpu')) {
      if (tf.env().getBool('IS_NODE')) await enableNodeReadSync(importer);
      return { ok: true, adapter: found.adapter };
    }
    return { ok: false, why: `@tensorflow/tfjs-backend-webgpu loaded but the 'webgpu' backend failed to initialise on ${found.adapter.name}` };
  } catch (err) {
    return { ok: false, why: firstLine(err) };
  }
}

/** Node has no OffscreenCanvas for tfjs-backend-webgpu's `readSync`: see webgpu-node.ts. */
async function enableNodeReadSync(importer: ModuleImporter): Promise<void> {
  let deasync: { loopWhile(pred: () => boolean): void };
  try {
    const mod = (await importer('deasync')) as { loopWhile?: unknown; default?: { loopWhile(pred: () => boolean): void } };
    deasync = typeof mod.loopWhile === 'function' ? (mod as { loopWhile(pred: () => boolean): void }) : (mod.default as { loopWhile(pred: () => boolean): void });
  } catch (err) {
    throw new Error(`synchronous reads (dataSync) on WebGPU in Node need the 'deasync' package (${firstLine(err)})`, { cause: err });
  }
  const { installNodeReadSync } = await import('./webgpu-node.js');
  installNodeReadSync(tf.backend() as never, (pred) => deasync.loopWhile(pred), (data, dtype) => tf.util.convertBackendValuesAndArrayBuffer(data, dtype as tf.DataType));
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
  if (choice === 'webgpu') {
    const r = await tryWebGPU(importer, true);
    if (!r.ok) throw new BackendUnavailableError('webgpu', `backend 'webgpu' is not available (${r.why}); ${INSTALL_HINT.webgpu}`);
    const kind = r.adapter.software ? 'a software adapter: correct but far slower than wasm, for testing' : 'hardware adapter';
    return { ...done('webgpu', `requested; ${r.adapter.name} via ${r.adapter.route}, ${kind}`), adapter: r.adapter };
  }
  if (choice === 'wasm' || choice === 'cpu') {
    const why = await tryPlain(choice, importer, threads);
    if (why === null) return done(choice, 'requested');
    throw new BackendUnavailableError(choice, `backend '${choice}' is not available (${why}); ${INSTALL_HINT[choice]}`);
  }
  const tfr = await tryTensorflow(importer);
  if (tfr.ok) return done('tensorflow', `auto: ${tfr.pkg} is installed`);
  const gpu = await tryWebGPU(importer, false);
  if (gpu.ok) return { ...done('webgpu', `auto: no native TensorFlow binding; WebGPU hardware adapter ${gpu.adapter.name} via ${gpu.adapter.route}`), adapter: gpu.adapter };
  const wasmWhy = await tryPlain('wasm', importer, threads);
  if (wasmWhy === null) {
    return done('wasm', `auto: no native TensorFlow binding installed (@tensorflow/tfjs-node[-gpu]) and no WebGPU hardware adapter (${gpu.why}); using WebAssembly`);
  }
  const cpuWhy = await tryPlain('cpu', importer, 1);
  if (cpuWhy === null) return done('cpu', `auto: wasm unavailable (${wasmWhy}); using the slow pure-JS cpu backend`);
  throw new BackendUnavailableError('auto', `no tfjs backend could be loaded: tensorflow (${tfr.why}); webgpu (${gpu.why}); wasm (${wasmWhy}); cpu (${cpuWhy})`);
}
