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
import { spawnSync } from 'node:child_process';
import { writeZip } from './io/zip.js';

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

export interface PythonTorch {
  python: string;
}

/** Debian's python3 with torch (SELFPATCH_PYTHON overrides), or null. */
export function findPythonTorch(): PythonTorch | null {
  for (const python of [process.env.SELFPATCH_PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean) as string[]) {
    const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return { python };
  }
  return null;
}

/** python3+torch, or throws under CI (missing tools are a failure there), or null locally. */
export function requirePythonTorch(): PythonTorch | null {
  const found = findPythonTorch();
  if (found === null && process.env.CI === 'true') {
    throw new Error('python3 with torch is required under CI=true (apt-get install python3-torch)');
  }
  return found;
}

/**
 * A torch.save-style zip whose `data.pkl` nests lists `depth` deep (protocol 2: `depth` EMPTY_LIST
 * opcodes, then APPENDs folding them into one another). A hostile input for reader tests, made by
 * the test rather than committed.
 */
export function deeplyNestedPth(depth: number): Uint8Array {
  const pkl = new Uint8Array(2 + depth + (depth - 1) + 1);
  pkl[0] = 0x80;
  pkl[1] = 0x02;
  pkl.fill(0x5d, 2, 2 + depth); // EMPTY_LIST
  pkl.fill(0x61, 2 + depth, 2 + depth + depth - 1); // APPEND
  pkl[pkl.length - 1] = 0x2e; // STOP
  return writeZip([
    { name: 'archive/data.pkl', data: pkl },
    { name: 'archive/byteorder', data: new TextEncoder().encode('little') },
    { name: 'archive/version', data: new TextEncoder().encode('3\n') },
  ]);
}
