/**
 * The Node side of backend start-up: WebGPU through Dawn (npm `webgpu`) with synchronous reads,
 * and threaded wasm on `worker_threads`. Only the Node entry imports this file, so browser
 * bundles never see a `node:*` module.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ModuleImporter, Platform } from './init-backend.js';
import { firstLine } from './init-backend.js';
import { startSimdKernelThreads } from './simd-threads-node.js';
import { installTensorflowKernels } from './tf-kernels-node.js';
import { setWasmBackendThreaded, type WasmModuleLike } from './wasm-threads-node.js';
import { installNodeReadSync, setupNodeWebGPU } from './webgpu-node.js';

type Deasync = { loopWhile(pred: () => boolean): void };

/** Node has no OffscreenCanvas for tfjs-backend-webgpu's `readSync`: see webgpu-node.ts. */
async function enableNodeReadSync(importer: ModuleImporter): Promise<void> {
  let deasync: Deasync;
  try {
    const mod = (await importer('deasync')) as Partial<Deasync> & { default?: Deasync };
    deasync = typeof mod.loopWhile === 'function' ? (mod as Deasync) : (mod.default as Deasync);
  } catch (err) {
    throw new Error(`synchronous reads (dataSync) on WebGPU in Node need the 'deasync' package (${firstLine(err)})`, { cause: err });
  }
  installNodeReadSync(tf.backend() as never, (pred) => deasync.loopWhile(pred), (data, dtype) => tf.util.convertBackendValuesAndArrayBuffer(data, dtype as tf.DataType));
}

export const nodePlatform: Platform = {
  native: true,
  importer: (specifier) => import(specifier),
  findAdapter: (importer, allowSoftware) => setupNodeWebGPU(importer, allowSoftware),
  afterTensorflow: installTensorflowKernels,
  afterWebGPU: enableNodeReadSync,
  async startWasm(wasm, { threads }) {
    if (threads === 1) return tf.setBackend('wasm');
    const got = await setWasmBackendThreaded(wasm as WasmModuleLike, threads);
    // The SIMD kernels (GELU, exp, AdamW, EMA, attention) split large calls over as many threads.
    await startSimdKernelThreads(got);
    return true;
  },
};
