/**
 * The per-step weight cache: layers that run many times per weight value keep their transposed
 * weight for the duration of a step (docs/tfjs-backends.md §3, per-kernel costs).
 */
let weightCache = false;

/** Whether {@link withWeightCache} is active (read by `Linear`). */
export function weightCacheEnabled(): boolean {
  return weightCache;
}

/**
 * Runs `fn` with per-layer caches of transposed weights enabled: `Linear` keeps `Wᵀ` (one extra
 * copy of its weight, owned and disposed by the layer) and reuses it while `W` is unchanged. Meant
 * for loops that call each layer many times per weight value, such as a training step over
 * micro-batches and crop groups (the ssl `Trainer` uses it). Outside it, a forward pass leaves no
 * tensors behind.
 *
 * @example
 * ```ts
 * const y = withWeightCache(() => tf.tidy(() => fc.forward(x)));
 * ```
 */
export function withWeightCache<T>(fn: () => T): T {
  const prev = weightCache;
  weightCache = true;
  try {
    return fn();
  } finally {
    weightCache = prev;
  }
}
