/**
 * The one list of SIMD kernels registered under the fused-op names of `@selfpatch/nn/kernels` for
 * 'wasm': simd-kernels.ts's table and inference-block.ts's block. The block is built on
 * simd-kernels.ts, so the list that holds both lives here, not in either.
 */
import * as tf from '@tensorflow/tfjs-core';
import { INFERENCE_BLOCK } from './inference-block.js';
import { SIMD_KERNELS } from './simd-kernels.js';

const ALL = [...SIMD_KERNELS, INFERENCE_BLOCK];

/** Registers the fused kernels (new kernel names) for 'wasm' (idempotent; `installWasmKernels` calls it). */
export function registerSimdKernels(): void {
  if (typeof WebAssembly === 'undefined') return;
  for (const [kernelName, kernelFunc] of ALL) {
    if (tf.getKernel(kernelName, 'wasm') === undefined) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
}

export function unregisterSimdKernels(): void {
  for (const [name] of ALL) if (tf.getKernel(name, 'wasm') !== undefined) tf.unregisterKernel(name, 'wasm');
}
