/**
 * `@selfpatch/backend` for Node: picks and starts the tfjs backend an app runs on (the native
 * TensorFlow binding, WebGPU through Dawn, wasm with our SIMD kernels and worker threads, cpu),
 * and registers the wasm kernels. Library packages never import this; apps do, once.
 */
import { initBackendOn, type BackendInfo, type InitBackendOptions } from './init-backend.js';
import { nodePlatform } from './platform-node.js';

export { BACKEND_CHOICES, describeBackend, type BackendChoice, type BackendInfo, type BackendName, type InitBackendOptions, type ModuleImporter } from './init-backend.js';
export { installWasmKernels, uninstallWasmKernels } from './wasm-kernels.js';
export { SIMD_KERNEL_BUILD_CHOICES, setSimdKernelBuild, simdKernelBuild, simdKernelThreads, type SimdKernelBuild } from './simd-kernels.js';
export { installTensorflowKernels, uninstallTensorflowKernels, tfKernelsPath, TF_FUSED_KERNEL_NAMES } from './tf-kernels-node.js';
export { describeAdapter, type FoundAdapter } from './webgpu-adapter.js';

/**
 * Loads and activates a tfjs backend: `auto` (tensorflow → WebGPU hardware adapter → wasm → cpu),
 * or one of `tensorflow`, `webgpu`, `wasm`, `cpu`, which fails with a `BackendUnavailableError`
 * saying what to install when it cannot load.
 *
 * @example
 * ```ts
 * import { describeBackend, initBackend } from '@selfpatch/backend';
 * const info = await initBackend('auto');
 * console.log(`backend: ${describeBackend(info)}`);
 * // two XNNPACK threads on wasm: await initBackend('wasm', { threads: 2 });
 * ```
 */
export function initBackend(choice: string = 'auto', options: InitBackendOptions = {}): Promise<BackendInfo> {
  return initBackendOn(nodePlatform, choice, options);
}
