/** Backends for parity tests: both embedded backends, with the wasm kernel fixes. */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { installWasmKernels } from '@selfpatch/nn';

installWasmKernels();

/** Backends every parity test runs on (override with SELFPATCH_TEST_BACKENDS=cpu,wasm). */
export const TEST_BACKENDS: string[] = (process.env.SELFPATCH_TEST_BACKENDS ?? 'cpu,wasm').split(',').filter(Boolean);

export async function useBackend(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} failed to initialise`);
  await tf.ready();
}
