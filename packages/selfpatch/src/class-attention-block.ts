/**
 * The class-attention block of the aggregation module (docs/selfpatch.md §2, official
 * `LayerScale_Block_CA`, which has no LayerScale parameter): updates a single token `t` attending
 * over itself and `X`; keys `norm1`, `attn.{q,k,v,proj}`, `norm2`, `mlp.{fc1,fc2}`.
 *
 *   U = LN1(concat[t, X]);  t = t + proj(attn(U));  t = t + fc2(GELU(fc1(LN2(t))))
 */
import * as tf from '@tensorflow/tfjs-core';
import { ClassAttention, LayerNorm, Mlp, Module, type Rng } from '@selfpatch/nn';

export class ClassAttentionBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: ClassAttention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;

  constructor(dim: number, numHeads: number, mlpRatio: number, eps: number, rng?: Rng) {
    super();
    this.norm1 = this.addModule('norm1', new LayerNorm(dim, eps));
    this.attn = this.addModule('attn', new ClassAttention(dim, numHeads, { rng }));
    this.norm2 = this.addModule('norm2', new LayerNorm(dim, eps));
    this.mlp = this.addModule('mlp', new Mlp(dim, { hiddenFeatures: Math.round(dim * mlpRatio), rng }));
  }

  /** `x [R, M, C]`, `t [R, 1, C]` → updated `t [R, 1, C]`. */
  forward(x: tf.Tensor3D, t: tf.Tensor3D): tf.Tensor3D {
    const u = this.norm1.forward(tf.concat([t, x], 1)) as tf.Tensor3D;
    const t1 = tf.add(t, this.attn.forward(u).out);
    return tf.add(t1, this.mlp.forward(this.norm2.forward(t1))) as tf.Tensor3D;
  }
}
