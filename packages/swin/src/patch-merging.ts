/**
 * Patch merging (docs/swin-moby.md §1): channels concatenated in the official order
 * (even row, even col), (odd row, even col), (even row, odd col), (odd, odd), then LayerNorm(4C)
 * and `reduction` Linear(4C → 2C, no bias). Odd sizes are zero-padded at the bottom/right.
 */
import * as tf from '@tensorflow/tfjs-core';
import { LayerNorm, Linear, Module, type Rng } from '@selfpatch/nn';

export class PatchMerging extends Module {
  readonly reduction: Linear;
  readonly norm: LayerNorm;

  constructor(
    readonly dim: number,
    eps: number,
    rng: Rng,
  ) {
    super();
    this.reduction = this.addModule('reduction', new Linear(4 * dim, 2 * dim, { bias: false, rng }));
    this.norm = this.addModule('norm', new LayerNorm(4 * dim, eps));
  }

  /** `x [B, h·w, C]` → `[B, ⌈h/2⌉·⌈w/2⌉, 2C]`. */
  forward(x: tf.Tensor3D, h: number, w: number): { x: tf.Tensor3D; h: number; w: number } {
    const [b, , c] = x.shape;
    let map = tf.reshape(x, [b, h, w, c]);
    const h2 = Math.ceil(h / 2);
    const w2 = Math.ceil(w / 2);
    if (h2 * 2 !== h || w2 * 2 !== w) map = tf.pad(map, [[0, 0], [0, 2 * h2 - h], [0, 2 * w2 - w], [0, 0]]);
    // [B·h/2, row parity, w/2, (col parity, C)]
    const g = tf.reshape(map, [b * h2, 2, w2, 2 * c]);
    const part = (r: number, col: number) => tf.slice(g, [0, r, 0, col * c], [b * h2, 1, w2, c]);
    const cat = tf.concat([part(0, 0), part(1, 0), part(0, 1), part(1, 1)], 3);
    const merged = tf.reshape(cat, [b, h2 * w2, 4 * c]);
    return { x: this.reduction.forward(this.norm.forward(merged)) as tf.Tensor3D, h: h2, w: w2 };
  }
}
