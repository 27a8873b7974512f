/**
 * The browser side of backend start-up: `navigator.gpu` for WebGPU, and tfjs-backend-wasm with
 * the page's `.wasm` URLs and, on a cross-origin-isolated page, XNNPACK threads.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@selfpatch/nn';
import type { Platform } from './init-backend.js';
import { browserAdapter } from './webgpu-adapter.js';

/** The part of tfjs-backend-wasm's module used here. */
interface WasmModule {
  setWasmPaths(paths: string | Record<string, string>): void;
  setThreadsCount(n: number): void;
}

/**
 * Runs `start` with `navigator.hardwareConcurrency` reading `cores`: tfjs-backend-wasm caps its
 * pool at half the logical cores (it assumes SMT), which is 1 thread on a 2-core machine whatever
 * is requested.
 */
async function withReportedCores<T>(cores: number, start: () => Promise<T>): Promise<T> {
  const nav = globalThis.navigator;
  const own = Object.getOwnPropertyDescriptor(nav, 'hardwareConcurrency');
  Object.defineProperty(nav, 'hardwareConcurrency', { configurable: true, get: () => cores });
  try {
    return await start();
  } finally {
    if (own) Object.defineProperty(nav, 'hardwareConcurrency', own);
    else delete (nav as unknown as Record<string, unknown>).hardwareConcurrency;
  }
}

/**
 * Literal imports, so that bundlers include the backends (a computed `import(name)` is left to the
 * browser, which cannot resolve a bare package name).
 */
const BUNDLED: Record<string, () => Promise<unknown>> = {
  '@tensorflow/tfjs-backend-wasm': () => import('@tensorflow/tfjs-backend-wasm'),
  '@tensorflow/tfjs-backend-webgpu': () => import('@tensorflow/tfjs-backend-webgpu'),
  '@tensorflow/tfjs-backend-cpu': () => import('@tensorflow/tfjs-backend-cpu'),
};

export const browserPlatform: Platform = {
  native: false,
  importer: async (specifier) => {
    const load = BUNDLED[specifier];
    if (!load) throw new Error(`'${specifier}' is not available in the browser build`);
    return load();
  },
  findAdapter: (_importer, allowSoftware) => browserAdapter(allowSoftware),
  afterTensorflow: () => '',
  afterWebGPU: async () => {},
  async startWasm(wasm, { threads, wasmPaths }) {
    const mod = wasm as WasmModule;
    if (wasmPaths !== undefined) mod.setWasmPaths(wasmPaths);
    if (threads === 1) return tf.setBackend('wasm');
    if (!(globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated) {
      throw new ConfigError('threads', `${threads} wasm threads need a cross-origin-isolated page (COOP: same-origin, COEP: require-corp); use 1`);
    }
    mod.setThreadsCount(threads);
    return withReportedCores(Math.max(globalThis.navigator.hardwareConcurrency, 2 * threads), () => tf.setBackend('wasm'));
  },
};
