/**
 * Test helpers for code that runs on the backends an app uses (`@selfpatch/backend/testing`):
 * cpu and wasm with our kernels installed, and on request the native `tensorflow` backend
 * (tfjs-node) and `webgpu` (Dawn, software adapters allowed). Node only; use it from tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { setSimdKernelBuild } from './simd-kernels.js';
import { installWasmKernels } from './wasm-kernels.js';

installWasmKernels();
// The SIMD kernels' build the tests run (auto, simd or relaxed-simd; relaxed-simd fails where the runtime lacks it).
if (process.env.SELFPATCH_TEST_SIMD_BUILD) setSimdKernelBuild(process.env.SELFPATCH_TEST_SIMD_BUILD);

/** Backends every test runs on (override with SELFPATCH_TEST_BACKENDS=cpu,wasm,tensorflow,webgpu). */
export const BACKENDS: readonly string[] = (process.env.SELFPATCH_TEST_BACKENDS ?? 'cpu,wasm').split(',').filter(Boolean);

/**
 * Activates a backend. `tensorflow` and `webgpu` are loaded on first use through `initBackend`; a
 * backend that was asked for but cannot load fails the test, never skips it.
 *
 * @example
 * ```ts
 * import { BACKENDS, use } from '@selfpatch/backend/testing';
 * for (const b of BACKENDS) { await use(b); ... }
 * ```
 */
export async function use(backend: string): Promise<void> {
  if ((backend === 'tensorflow' || backend === 'webgpu') && tf.findBackend(backend) === null) {
    const { initBackend } = await import('./index.node.js');
    await initBackend(backend);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`cannot set backend ${backend}`);
  await tf.ready();
}
