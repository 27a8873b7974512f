/**
 * `@selfpatch/backend` for browsers: WebGPU through `navigator.gpu` on a hardware adapter, else
 * wasm with our SIMD kernels (threads on cross-origin-isolated pages), else cpu. No `node:*`
 * module is reachable from this entry.
 */
import { initBackendOn, type BackendInfo, type InitBackendOptions } from './init-backend.js';
import { browserPlatform } from './platform-browser.js';

export { BACKEND_CHOICES, describeBackend, type BackendChoice, type BackendInfo, type BackendName, type InitBackendOptions, type ModuleImporter } from './init-backend.js';
export { installWasmKernels, uninstallWasmKernels } from './wasm-kernels.js';
export { SIMD_KERNEL_BUILD_CHOICES, setSimdKernelBuild, simdKernelBuild, simdKernelThreads, type SimdKernelBuild } from './simd-kernels.js';
export { browserAdapter, describeAdapter, type FoundAdapter } from './webgpu-adapter.js';

/**
 * Loads and activates a tfjs backend in a page or worker: `auto` (WebGPU hardware adapter → wasm
 * → cpu), or one of `webgpu` (a software adapter is accepted and named), `wasm`, `cpu`.
 * `tensorflow` is Node only and fails with a `BackendUnavailableError`.
 *
 * @example
 * ```ts
 * import { describeBackend, initBackend } from '@selfpatch/backend';
 * // With a bundler, point tfjs-backend-wasm at its binaries (Vite: `?url` imports of the three .wasm files).
 * const info = await initBackend('auto', { wasmPaths: 'https://cdn.jsdelivr.net/npm/@tensorflow/tfjs-backend-wasm@4.22.0/dist/' });
 * document.title = describeBackend(info);
 * ```
 */
export function initBackend(choice: string = 'auto', options: InitBackendOptions = {}): Promise<BackendInfo> {
  return initBackendOn(browserPlatform, choice, options);
}
