/**
 * Fused exact-GELU kernels for tfjs-backend-wasm, compiled from `csrc/gelu.c` (clang, wasm32 +
 * SIMD128, no libc) and embedded base64 (src/simd-kernels-wasm.ts).
 *
 * Why: tfjs-wasm computes `erf` and `exp` with scalar libm calls, and GELU is ~5 kernels forward
 * and ~11 backward, each a full pass over the activations (TFJS_NOTES §3, §4). A profile of the
 * ViT-Ti DINO+SelfPatch step put ~1.5 s of its single-threaded time there. This module does each
 * direction in one SIMD pass. It has its own linear memory: inputs are copied in and the result
 * copied out (a memcpy-speed pass each way), which keeps it independent of tfjs's module layout.
 *
 * Accuracy: `Φ` from the erfc Chebyshev fit of Press et al. (fractional error < 1.2e-7) with a
 * range-reduced `exp`, in float32: within a few float32 ulps of PyTorch's `0.5·x·(1 + erf(x/√2))`
 * (checked against the cpu backend in the tests and by the golden fixtures on wasm).
 */
import * as tf from '@tensorflow/tfjs-core';
import { SIMD_KERNELS_WASM } from './simd-kernels-wasm.js';

export const GELU_KERNEL = 'SelfPatchGelu';
export const GELU_GRAD_KERNEL = 'SelfPatchGeluGrad';

interface Exports {
  memory: WebAssembly.Memory;
  gelu_fwd(...args: number[]): void; // (x, y, n)
  gelu_bwd(...args: number[]): void; // (dy, x, dx, n)
}

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

function decodeBase64(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

let exportsCache: Exports | null = null;

/** Instantiates the module once (synchronously: it is 2 KB, under every engine's sync limit). */
function kernels(): Exports {
  if (!exportsCache) {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(decodeBase64(SIMD_KERNELS_WASM)), {});
    exportsCache = instance.exports as unknown as Exports;
  }
  return exportsCache;
}

/**
 * Copies `inputs` (equal lengths) into the module's memory, zero-padded to a multiple of 4 floats,
 * calls `kernel(inputOffsets..., outputOffset, paddedLength)` and copies the result to `out`.
 */
function runPadded(inputs: Float32Array[], out: Float32Array, kernel: (...args: number[]) => void): void {
  const k = kernels();
  const n = out.length;
  const padded = Math.ceil(n / 4) * 4;
  // The stack (64 KB) comes first (--stack-first); constants follow. Buffers start at 128 KB.
  const base = 1 << 17;
  const offsets = Array.from({ length: inputs.length + 1 }, (_, i) => base + i * padded * 4);
  const need = base + offsets.length * padded * 4;
  const have = k.memory.buffer.byteLength;
  if (need > have) k.memory.grow(Math.ceil((need - have) / 65536));
  const mem = new Float32Array(k.memory.buffer);
  inputs.forEach((a, i) => {
    const at = (offsets[i] as number) / 4;
    mem.set(a, at);
    mem.fill(0, at + n, at + padded);
  });
  kernel(...offsets, padded);
  out.set(new Float32Array(k.memory.buffer, offsets[inputs.length], n));
}

/** `y = x·Φ(x)` over a float32 array. */
export function geluSimd(x: Float32Array, y: Float32Array): void {
  runPadded([x], y, kernels().gelu_fwd);
}

/** `dx = dy·(Φ(x) + x·φ(x))` over float32 arrays. */
export function geluGradSimd(dy: Float32Array, x: Float32Array, dx: Float32Array): void {
  runPadded([dy, x], dx, kernels().gelu_bwd);
}

function geluKernel({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const x = (inputs as { x: tf.TensorInfo }).x;
  const be = backend as WasmBackendLike;
  const out = be.makeOutput(x.shape, 'float32');
  geluSimd(be.typedArrayFromHeap(x), be.typedArrayFromHeap(out));
  return out;
}

function geluGradKernel({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const { dy, x } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
  const be = backend as WasmBackendLike;
  const out = be.makeOutput(x.shape, 'float32');
  geluGradSimd(be.typedArrayFromHeap(dy), be.typedArrayFromHeap(x), be.typedArrayFromHeap(out));
  return out;
}

/** Registers the fused GELU kernels for 'wasm' (idempotent; `installWasmKernels` calls it). */
export function registerSimdKernels(): void {
  if (typeof WebAssembly === 'undefined') return;
  if (tf.getKernel(GELU_KERNEL, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: GELU_KERNEL, backendName: 'wasm', kernelFunc: geluKernel as unknown as tf.KernelFunc });
  }
  if (tf.getKernel(GELU_GRAD_KERNEL, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: GELU_GRAD_KERNEL, backendName: 'wasm', kernelFunc: geluGradKernel as unknown as tf.KernelFunc });
  }
}

export function unregisterSimdKernels(): void {
  for (const name of [GELU_KERNEL, GELU_GRAD_KERNEL]) if (tf.getKernel(name, 'wasm') !== undefined) tf.unregisterKernel(name, 'wasm');
}

/** Whether `gelu()` can use the fused kernels on the active backend. */
export function fusedGeluAvailable(): boolean {
  return tf.getBackend() === 'wasm' && tf.getKernel(GELU_KERNEL, 'wasm') !== undefined;
}
