/**
 * Tensors derived from a variable's current value (its transpose, its row norms, ...), computed
 * once per value: an optimizer or EMA `assign` gives the variable a new dataId, which triggers a
 * recompute and frees the old tensors. The owner calls `dispose()`.
 */
import * as tf from '@tensorflow/tfjs-core';

export class DerivedTensors<T extends tf.Tensor[]> {
  private entry: { dataId: object; value: T } | null = null;

  constructor(
    private readonly source: tf.Variable,
    private readonly derive: (v: tf.Variable) => T,
  ) {}

  /**
   * @example
   * ```ts
   * const wt = new DerivedTensors(weight, (w) => [tf.transpose(w)]);
   * const [t] = wt.get(); // recomputed only after weight.assign(...)
   * ```
   */
  get(): T {
    const id = this.source.dataId as object;
    if (this.entry?.dataId !== id) {
      this.dispose();
      const value = tf.tidy(() => this.derive(this.source));
      value.forEach((t) => tf.keep(t));
      this.entry = { dataId: id, value };
    }
    return this.entry.value;
  }

  dispose(): void {
    if (this.entry) tf.dispose(this.entry.value);
    this.entry = null;
  }
}
