/**
 * Test helpers for this package's own tests and for code that tests its portable ops: the two
 * embedded tfjs backends as they ship (no fused kernels), value comparison, and locating Debian's
 * python3 with torch for interop tests. Imports the cpu and wasm backends: use it from tests, not
 * from library code. Tests that run on the backends an app would use (fused wasm kernels, the
 * native `tensorflow` backend, WebGPU) take `use` from `@selfpatch/backend/testing`.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

/** The backends this package's tests run on: each op's portable formulation on stock tfjs. */
export const PORTABLE_BACKENDS: readonly string[] = ['cpu', 'wasm'];

/** Activates a stock tfjs backend (`cpu` or `wasm`). */
export async function useStock(backend: string): Promise<void> {
  if (!PORTABLE_BACKENDS.includes(backend)) throw new Error(`useStock: '${backend}' is not one of ${PORTABLE_BACKENDS.join(', ')}`);
  if (!(await tf.setBackend(backend))) throw new Error(`cannot set backend ${backend}`);
  await tf.ready();
}

export { maxAbsDiff } from './max-abs-diff.js';
export { OP_CASES, checkOpCase, randn, type OpCase, type OpCaseResult } from './op-conformance.js';

export { findPythonTorch, requirePythonTorch, deeplyNestedPth, type PythonTorch } from '@selfpatch/checkpoint/testing';
