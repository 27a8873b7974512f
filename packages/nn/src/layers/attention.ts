/**
 * Multi-head self-attention with PyTorch's fused-qkv layout (docs/selfpatch.md §1 "MHSA"):
 * `qkv.weight [3C, C]` whose output channels are `[q | k | v]`, head `j` owning `[jD, (j+1)D)`
 * within each; `proj` C→C. The rank-5 reshape/permute of the reference is replaced by one 4-D
 * transpose and a split (docs/tfjs-backends.md §3: 5-D transposes are slow on wasm); in inference,
 * on a backend with the kernel, the core reads the fused projection directly (no permutes).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../module.js';
import { ShapeError } from '../errors.js';
import { attentionFromQkv, attentionFromQkvAvailable, scaledDotProductAttention } from '../ops/attention.js';
import { Linear, type LinearInit } from './linear.js';
import type { Rng } from '../rng.js';

export interface AttentionOptions {
  qkvBias?: boolean;
  /** Overrides `D^-½`. */
  qkScale?: number;
  init?: LinearInit;
  rng?: Rng;
}

export interface AttentionOutput {
  /** `[B, N, C]` */
  out: tf.Tensor3D;
  /** `[B, H, N, N]` softmax probabilities, when requested. */
  attn?: tf.Tensor4D;
}

/**
 * @example
 * ```ts
 * const attn = new Attention(48, 3);
 * const { out, attn: probs } = attn.forward(tf.randomNormal([2, 10, 48]) as tf.Tensor3D, true);
 * ```
 */
export class Attention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly headDim: number;
  readonly scale: number;

  constructor(
    readonly dim: number,
    readonly numHeads: number,
    options: AttentionOptions = {},
  ) {
    super();
    if (dim % numHeads !== 0) throw new ShapeError(`Attention: dim ${dim} is not divisible by numHeads ${numHeads}`);
    this.headDim = dim / numHeads;
    this.scale = options.qkScale ?? this.headDim ** -0.5;
    this.qkv = this.addModule('qkv', new Linear(dim, 3 * dim, { bias: options.qkvBias ?? true, init: options.init, rng: options.rng }));
    this.proj = this.addModule('proj', new Linear(dim, dim, { init: options.init, rng: options.rng }));
  }

  forward(x: tf.Tensor3D, returnAttention = false): AttentionOutput {
    const [b, n, c] = x.shape;
    const h = this.numHeads;
    const d = this.headDim;
    if (c !== this.dim) throw new ShapeError(`Attention: input dim ${c} != ${this.dim}`);
    if (!returnAttention && !this.training && attentionFromQkvAvailable(x)) {
      return { out: this.proj.forward(attentionFromQkv(this.qkv.forward(x) as tf.Tensor3D, h, this.scale)) as tf.Tensor3D };
    }
    // [B,N,3C] -> [B,N,3H,D] -> [B,3H,N,D] -> [B,3,H·N·D]; q/k/v are contiguous thirds per batch.
    const qkv = tf.reshape(tf.transpose(tf.reshape(this.qkv.forward(x), [b, n, 3 * h, d]), [0, 2, 1, 3]), [b, 3, h * n * d]);
    const [q, k, v] = tf.split(qkv, 3, 1).map((t) => tf.reshape(t, [b * h, n, d]) as tf.Tensor3D) as [
      tf.Tensor3D,
      tf.Tensor3D,
      tf.Tensor3D,
    ];
    const res = scaledDotProductAttention(q, k, v, this.scale, returnAttention);
    const merged = tf.reshape(tf.transpose(tf.reshape(res.out, [b, h, n, d]), [0, 2, 1, 3]), [b, n, c]);
    const out = this.proj.forward(merged) as tf.Tensor3D;
    return res.attn ? { out, attn: tf.reshape(res.attn, [b, h, n, n]) as tf.Tensor4D } : { out };
  }
}
