/**
 * Per-parameter gradient clipping as `utils.clip_gradients` (docs/selfpatch.md §5 step 4; not a
 * global-norm clip): for each gradient, `ν = ‖g‖₂`; if `clip/(ν + 1e-6) < 1`, `g ← g·clip/(ν + 1e-6)`.
 * Returns the pre-clip norms (the reference calls them `param_norms`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { l2norm } from '@selfpatch/nn';

/** Replaces gradient `name` by `coef·g` (the old tensor is disposed). */
function scaleGradient(grads: Map<string, tf.Tensor | null>, name: string, coef: number): void {
  const g = grads.get(name) as tf.Tensor;
  grads.set(name, tf.tidy(() => tf.mul(g, tf.scalar(coef))));
  g.dispose();
}

export function clipGradients(grads: Map<string, tf.Tensor | null>, clip: number): Map<string, number> {
  const names = [...grads.entries()].filter(([, g]) => g !== null).map(([n]) => n);
  const norms = new Map<string, number>();
  if (names.length === 0) return norms;
  const normValues = tf.tidy(() => tf.stack(names.map((n) => l2norm(tf.reshape(grads.get(n) as tf.Tensor, [-1])))).dataSync());
  names.forEach((n, i) => norms.set(n, normValues[i] as number));
  if (!(clip > 0)) return norms;
  names.forEach((n, i) => {
    // float32 coefficient, as torch computes it from a float32 norm tensor.
    const coef = Math.fround(clip / Math.fround((normValues[i] as number) + 1e-6));
    if (coef < 1) {
      scaleGradient(grads, n, coef);
    }
  });
  return norms;
}

/** Removes the gradients of every parameter whose name contains `last_layer` while `epoch < freezeEpochs`. */
export function cancelLastLayerGradients(grads: Map<string, tf.Tensor | null>, epoch: number, freezeEpochs: number): void {
  if (epoch >= freezeEpochs) return;
  for (const [name, g] of grads) {
    if (name.includes('last_layer') && g) {
      g.dispose();
      grads.set(name, null);
    }
  }
}

/**
 * Global-norm clipping as `torch.nn.utils.clip_grad_norm_` (MoBY's optimizer, docs/swin-moby.md §2):
 * `ν = √Σ‖g‖²`; if `max/(ν + 1e-6) < 1` every gradient is scaled by it. Returns ν.
 */
export function clipGradNorm(grads: Map<string, tf.Tensor | null>, maxNorm: number): number {
  const names = [...grads.entries()].filter(([, g]) => g !== null).map(([n]) => n);
  if (names.length === 0) return 0;
  const total = tf.tidy(() => tf.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads.get(n) as tf.Tensor))))).dataSync()[0] as number);
  const coef = Math.fround(maxNorm / Math.fround(total + 1e-6));
  if (maxNorm > 0 && coef < 1) {
    for (const n of names) scaleGradient(grads, n, coef);
  }
  return total;
}
