/**
 * Pre-norm transformer block (docs/selfpatch.md §1 "Transformer block"), keys `norm1`, `attn.qkv`,
 * `attn.proj`, `norm2`, `mlp.fc1`, `mlp.fc2`:
 * `x = x + DropPath(attn(LN1(x)));  x = x + DropPath(mlp(LN2(x)))`.
 * In eval mode on a backend with the fused block kernel (wasm), the whole block is one kernel call
 * with the same values (`inferenceBlock` in `@selfpatch/nn`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Attention, DropPath, inferenceBlock, inferenceBlockAvailable, LayerNorm, Mlp, Module, type Rng } from '@selfpatch/nn';

export interface BlockOptions {
  dim: number;
  numHeads: number;
  mlpRatio: number;
  qkvBias: boolean;
  eps: number;
  dropPath: number;
  rng: Rng;
  dropPathRng: Rng;
}

export class Block extends Module {
  readonly norm1: LayerNorm;
  readonly attn: Attention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  readonly dropPath: DropPath;

  constructor(o: BlockOptions) {
    super();
    this.norm1 = this.addModule('norm1', new LayerNorm(o.dim, o.eps));
    this.attn = this.addModule('attn', new Attention(o.dim, o.numHeads, { qkvBias: o.qkvBias, rng: o.rng }));
    this.dropPath = this.addModule('drop_path', new DropPath(o.dropPath, o.dropPathRng));
    this.norm2 = this.addModule('norm2', new LayerNorm(o.dim, o.eps));
    this.mlp = this.addModule('mlp', new Mlp(o.dim, { hiddenFeatures: Math.round(o.dim * o.mlpRatio), rng: o.rng }));
  }

  /** `x [B, N, C]` → `[B, N, C]`, plus the attention probabilities `[B, H, N, N]` on request. */
  forward(x: tf.Tensor3D, returnAttention = false): { x: tf.Tensor3D; attn?: tf.Tensor4D } {
    if (!returnAttention && !this.training && inferenceBlockAvailable(x)) return { x: this.fused(x) };
    const a = this.attn.forward(this.norm1.forward(x) as tf.Tensor3D, returnAttention);
    const y = tf.add(x, this.dropPath.forward(a.out));
    const out = tf.add(y, this.dropPath.forward(this.mlp.forward(this.norm2.forward(y)))) as tf.Tensor3D;
    return a.attn ? { x: out, attn: a.attn } : { x: out };
  }

  /** The eval-mode block as one backend kernel (DropPath is the identity in eval mode). */
  private fused(x: tf.Tensor3D): tf.Tensor3D {
    const { norm1, attn, norm2, mlp } = this;
    return inferenceBlock(x, { norm1, qkv: attn.qkv, proj: attn.proj, norm2, fc1: mlp.fc1, fc2: mlp.fc2 }, { heads: attn.numHeads, scale: attn.scale, eps1: norm1.eps, eps2: norm2.eps });
  }
}
