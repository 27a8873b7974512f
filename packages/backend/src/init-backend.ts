/**
 * Backend selection for apps, shared by the Node and browser entries (they differ only in the
 * {@link Platform} they pass). Library packages never pick a backend; apps call `initBackend`
 * once at start-up.
 *
 * `auto`: `tensorflow` when `@tensorflow/tfjs-node-gpu` or `@tensorflow/tfjs-node` is installed
 * and loads (Node only), else `webgpu` on a hardware adapter, else `wasm`, else `cpu`. `auto` never
 * takes a software WebGPU adapter (they are for correctness, 100x slower than wasm); an explicit
 * `webgpu` may, and says so. An explicit choice that cannot load fails with a message that says
 * what to install. The native packages are optional peers: their install downloads libtensorflow,
 * which is not possible everywhere.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError, ConfigError } from '@selfpatch/nn';
import { setSimdKernelBuild, simdKernelBuild, type SimdKernelBuild } from './simd-kernels.js';
import { installWasmKernels } from './wasm-kernels.js';
import type { FoundAdapter } from './webgpu-adapter.js';

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
  /** wasm only: the build our SIMD kernels run (`simd` option). */
  kernels?: SimdKernelBuild;
  /** The WebGPU adapter in use (webgpu only). */
  adapter?: FoundAdapter;
}

/** One line for logs: `wasm, 2 threads (requested)`. */
export function describeBackend(info: BackendInfo): string {
  const threads = info.name === 'wasm' ? `, ${info.threads} thread${info.threads > 1 ? 's' : ''}` : '';
  const kernels = info.kernels ? `, ${info.kernels} kernels` : '';
  return `${info.name}${threads}${kernels} (${info.reason})`;
}

/** Loads a module by specifier; injectable for tests. */
export type ModuleImporter = (specifier: string) => Promise<unknown>;

export interface InitBackendOptions {
  importer?: ModuleImporter;
  /**
   * XNNPACK threads for the wasm backend (default 1). Above 1, Node runs the threaded-SIMD binary
   * on `worker_threads` (which never hold the process open) and splits the large calls of the SIMD
   * kernels over as many threads; a browser page needs to be cross-origin isolated. A busy second
   * core makes it slower, so it is opt-in. Ignored by the other backends.
   */
  threads?: number;
  /**
   * Browser only: where the page serves tfjs-backend-wasm's `.wasm` binaries (passed to its
   * `setWasmPaths`: a folder URL ending in `/`, or one URL per file name). Bundlers that hash
   * asset names need the per-file form.
   */
  wasmPaths?: string | Record<string, string>;
  /**
   * wasm only: the build of our SIMD kernels (`setSimdKernelBuild`). `auto` (default): relaxed
   * SIMD's fused multiply-add where the runtime has it (Chromium 114+, Node 22+), 15-25% faster
   * products; `simd`: the same bits on every machine; `relaxed-simd`: fail where it is missing.
   */
  simd?: string;
}

/** What differs between Node and browsers. */
export interface Platform {
  /** Whether the native TensorFlow bindings can exist here. */
  native: boolean;
  /** Loads the backend packages by name (unless the caller passes its own). */
  importer: ModuleImporter;
  /** Finds a WebGPU adapter and makes it the one `navigator.gpu` gives tfjs. */
  findAdapter(importer: ModuleImporter, allowSoftware: boolean): Promise<{ adapter: FoundAdapter } | { adapter: null; why: string }>;
  /** Runs after the `tensorflow` backend from `pkg` is active; returns a note for the reason (Node: the fused native kernels). */
  afterTensorflow(pkg: string): string;
  /** Runs after the `webgpu` backend is active (Node: synchronous reads). */
  afterWebGPU(importer: ModuleImporter): Promise<void>;
  /** Activates `wasm` (the module is tfjs-backend-wasm), with `threads` XNNPACK threads when possible; false when it failed to initialise. */
  startWasm(wasm: unknown, options: InitBackendOptions & { threads: number }): Promise<boolean>;
}

const INSTALL_HINT: Record<BackendName, string> = {
  tensorflow:
    'install @tensorflow/tfjs-node-gpu (CUDA) or @tensorflow/tfjs-node (native CPU); their install downloads libtensorflow (in this repository, `npm run setup:tfjs-node` also builds it offline)',
  webgpu: 'install @tensorflow/tfjs-backend-webgpu, and in Node the `webgpu` package (Dawn); a GPU with a Vulkan, Metal or D3D12 driver gives a hardware adapter',
  wasm: 'install @tensorflow/tfjs-backend-wasm',
  cpu: 'install @tensorflow/tfjs-backend-cpu',
};

async function tryTensorflow(platform: Platform, importer: ModuleImporter): Promise<{ ok: true; pkg: string; note: string } | { ok: false; why: string }> {
  if (!platform.native) return { ok: false, why: 'the native TensorFlow bindings exist only in Node' };
  const errors: string[] = [];
  // libtensorflow's start-up banner (oneDNN, CPU features) is noise in a CLI's output.
  if (typeof process !== 'undefined') process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await importer(pkg);
      if (await tf.setBackend('tensorflow')) return { ok: true, pkg, note: platform.afterTensorflow(pkg) };
      errors.push(`${pkg} loaded but the 'tensorflow' backend failed to initialise`);
    } catch (err) {
      errors.push(`${pkg}: ${firstLine(err)}`);
    }
  }
  return { ok: false, why: errors.join('; ') };
}

async function tryWebGPU(platform: Platform, importer: ModuleImporter, allowSoftware: boolean): Promise<{ ok: true; adapter: FoundAdapter } | { ok: false; why: string }> {
  try {
    const found = await platform.findAdapter(importer, allowSoftware);
    if (!found.adapter) return { ok: false, why: found.why };
    await importer('@tensorflow/tfjs-backend-webgpu');
    if (await tf.setBackend('webgpu')) {
      await platform.afterWebGPU(importer);
      return { ok: true, adapter: found.adapter };
    }
    return { ok: false, why: `@tensorflow/tfjs-backend-webgpu loaded but the 'webgpu' backend failed to initialise on ${found.adapter.name}` };
  } catch (err) {
    return { ok: false, why: firstLine(err) };
  }
}

async function tryPlain(platform: Platform, name: 'wasm' | 'cpu', importer: ModuleImporter, options: InitBackendOptions & { threads: number }): Promise<string | null> {
  const pkg = name === 'wasm' ? '@tensorflow/tfjs-backend-wasm' : '@tensorflow/tfjs-backend-cpu';
  try {
    const mod = await importer(pkg);
    if (name === 'wasm') {
      installWasmKernels();
      if (await platform.startWasm(mod, options)) return null;
    } else if (await tf.setBackend(name)) {
      return null;
    }
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

export function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}

/** `initBackend` of the entries, on `platform`. */
export async function initBackendOn(platform: Platform, choice: string, options: InitBackendOptions): Promise<BackendInfo> {
  if (!(BACKEND_CHOICES as readonly string[]).includes(choice)) {
    throw new ConfigError('backend', `expected one of ${BACKEND_CHOICES.join(', ')}, got '${choice}'`);
  }
  const importer = options.importer ?? platform.importer;
  const threads = options.threads ?? 1;
  checkThreads(threads);
  // Before the wasm backend starts: its kernel threads load the build chosen here.
  if (options.simd !== undefined) setSimdKernelBuild(options.simd);
  const opts = { ...options, threads };
  const done = (name: BackendName, reason: string): BackendInfo => ({
    name,
    reason,
    threads: name === 'wasm' ? wasmThreads() : 1,
    ...(name === 'wasm' ? { kernels: simdKernelBuild() } : {}),
  });
  if (choice === 'tensorflow') {
    const r = await tryTensorflow(platform, importer);
    if (r.ok) return done('tensorflow', `requested; using ${r.pkg}, ${r.note}`);
    throw new BackendUnavailableError('tensorflow', `backend 'tensorflow' is not available (${r.why}); ${INSTALL_HINT.tensorflow}`);
  }
  if (choice === 'webgpu') {
    const r = await tryWebGPU(platform, importer, true);
    if (!r.ok) throw new BackendUnavailableError('webgpu', `backend 'webgpu' is not available (${r.why}); ${INSTALL_HINT.webgpu}`);
    const kind = r.adapter.software ? 'a software adapter: correct but far slower than wasm, for testing' : 'hardware adapter';
    return { ...done('webgpu', `requested; ${r.adapter.name} via ${r.adapter.route}, ${kind}`), adapter: r.adapter };
  }
  if (choice === 'wasm' || choice === 'cpu') {
    const why = await tryPlain(platform, choice, importer, opts);
    if (why === null) return done(choice, 'requested');
    throw new BackendUnavailableError(choice, `backend '${choice}' is not available (${why}); ${INSTALL_HINT[choice]}`);
  }
  const tfr = await tryTensorflow(platform, importer);
  if (tfr.ok) return done('tensorflow', `auto: ${tfr.pkg} is installed, ${tfr.note}`);
  const gpu = await tryWebGPU(platform, importer, false);
  if (gpu.ok) return { ...done('webgpu', `auto: no native TensorFlow binding; WebGPU hardware adapter ${gpu.adapter.name} via ${gpu.adapter.route}`), adapter: gpu.adapter };
  const wasmWhy = await tryPlain(platform, 'wasm', importer, opts);
  if (wasmWhy === null) {
    const native = platform.native ? 'no native TensorFlow binding installed (@tensorflow/tfjs-node[-gpu]) and ' : '';
    return done('wasm', `auto: ${native}no WebGPU hardware adapter (${gpu.why}); using WebAssembly`);
  }
  const cpuWhy = await tryPlain(platform, 'cpu', importer, { ...opts, threads: 1 });
  if (cpuWhy === null) return done('cpu', `auto: wasm unavailable (${wasmWhy}); using the slow pure-JS cpu backend`);
  throw new BackendUnavailableError('auto', `no tfjs backend could be loaded: tensorflow (${tfr.why}); webgpu (${gpu.why}); wasm (${wasmWhy}); cpu (${cpuWhy})`);
}
