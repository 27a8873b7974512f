/** Test setup: both embedded backends with the wasm kernel fixes installed. */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { installWasmKernels } from '@selfpatch/nn';

installWasmKernels();

export const BACKENDS = ['cpu', 'wasm'] as const;

export async function use(backend: string): Promise<void> {
  if (!(await tf.setBackend(backend))) throw new Error(`cannot set backend ${backend}`);
  await tf.ready();
}

/** Max |a - b| over two tensors' values. */
export function maxAbsDiff(a: tf.Tensor | ArrayLike<number>, b: tf.Tensor | ArrayLike<number>): number {
  const av = a instanceof tf.Tensor ? a.dataSync() : a;
  const bv = b instanceof tf.Tensor ? b.dataSync() : b;
  if (av.length !== bv.length) throw new Error(`length ${av.length} != ${bv.length}`);
  let m = 0;
  for (let i = 0; i < av.length; i++) m = Math.max(m, Math.abs((av[i] as number) - (bv[i] as number)));
  return m;
}

/** Runs `fn` on each backend and returns the values it produced, keyed by backend. */
export async function onBackends<T>(fn: () => T): Promise<Record<string, T>> {
  const out: Record<string, T> = {};
  for (const b of BACKENDS) {
    await use(b);
    out[b] = fn();
  }
  return out;
}
