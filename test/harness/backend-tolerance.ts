/**
 * How far each tfjs backend may stray from the fixtures' own tolerances, in one place, each with
 * its reason. The manifests' tolerances were set for float32 CPU arithmetic in PyTorch; cpu and
 * wasm meet them as they are. A factor here multiplies both `atol` and `rtol` of every
 * non-exact tolerance; exact comparisons (integer ids, argmax) stay exact on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tolerance } from './golden.js';

export interface BackendTolerance {
  factor: number;
  reason: string;
}

export const BACKEND_TOLERANCE: Record<string, BackendTolerance> = {
  cpu: { factor: 1, reason: 'plain float32 JS loops: meets the fixtures as they are' },
  wasm: { factor: 1, reason: 'XNNPACK and our SIMD kernels in float32: meets the fixtures as they are' },
  tensorflow: { factor: 1, reason: 'libtensorflow (oneDNN) float32: meets the fixtures as they are' },
  webgpu: { factor: 1, reason: 'WGSL float32: meets the fixtures as they are' },
};

/** The tolerance to use on the active backend. */
export function onBackend(tol: Tolerance, backend: string = tf.getBackend()): Tolerance {
  if (tol === 'exact') return tol;
  const f = BACKEND_TOLERANCE[backend]?.factor ?? 1;
  return f === 1 ? tol : { atol: tol.atol * f, rtol: tol.rtol * f };
}
