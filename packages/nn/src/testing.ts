/**
 * Test helpers shared by every package's tests (`@selfpatch/nn/testing`): both embedded backends
 * with the wasm kernel fixes, value comparison, and locating Debian's python3 with torch for
 * interop tests. Imports the cpu and wasm backends: use it from tests, not from library code.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { spawnSync } from 'node:child_process';
import { installWasmKernels } from './wasm-kernels.js';
import { writeZip } from './io/zip.js';

installWasmKernels();

/** Backends every test runs on (override with SELFPATCH_TEST_BACKENDS=cpu,wasm). */
export const BACKENDS: readonly string[] = (process.env.SELFPATCH_TEST_BACKENDS ?? 'cpu,wasm').split(',').filter(Boolean);

/**
 * Activates a backend. `tensorflow` (tfjs-node, see `npm run setup:tfjs-node`) and `webgpu`
 * (Dawn, software adapters allowed) are loaded on first use through `initBackend`; a backend that
 * was asked for but cannot load fails the test, never skips it.
 */
export async function use(backend: string): Promise<void> {
  if ((backend === 'tensorflow' || backend === 'webgpu') && tf.findBackend(backend) === null) {
    const { initBackend } = await import('./runtime.js');
    await initBackend(backend);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`cannot set backend ${backend}`);
  await tf.ready();
}

/** Max |a − b| over two tensors' or arrays' values. */
export function maxAbsDiff(a: tf.Tensor | ArrayLike<number>, b: tf.Tensor | ArrayLike<number>): number {
  const av = a instanceof tf.Tensor ? a.dataSync() : a;
  const bv = b instanceof tf.Tensor ? b.dataSync() : b;
  if (av.length !== bv.length) throw new Error(`length ${av.length} != ${bv.length}`);
  let m = 0;
  for (let i = 0; i < av.length; i++) m = Math.max(m, Math.abs((av[i] as number) - (bv[i] as number)));
  return m;
}

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
