/**
 * Class attention (CaiT; docs/selfpatch.md §2): a single class token attends over itself and the
 * other tokens. Keys `q`, `k`, `v`, `proj` (all C→C with bias). The query is scaled by `D^-½`
 * before the product, as the reference does.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../module.js';
import { ShapeError } from '../errors.js';
import { singleQueryAttention } from '../ops/attention.js';
import { Linear, type LinearInit } from './linear.js';
import type { Rng } from '../rng.js';

export interface ClassAttentionOptions {
  qkvBias?: boolean;
  qkScale?: number;
  init?: LinearInit;
  rng?: Rng;
}

/**
 * @example
 * ```ts
 * const ca = new ClassAttention(48, 3);
 * // u = concat[cls, tokens]: [B, 1+M, C] -> updated cls [B, 1, C]
 * const { out } = ca.forward(tf.randomNormal([2, 5, 48]) as tf.Tensor3D);
 * ```
 */
export class ClassAttention extends Module {
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly proj: Linear;
  readonly headDim: number;
  readonly scale: number;

  constructor(
    readonly dim: number,
    readonly numHeads: number,
    options: ClassAttentionOptions = {},
  ) {
    super();
    if (dim % numHeads !== 0) throw new ShapeError(`ClassAttention: dim ${dim} is not divisible by numHeads ${numHeads}`);
    this.headDim = dim / numHeads;
    this.scale = options.qkScale ?? this.headDim ** -0.5;
    const lin = { bias: options.qkvBias ?? true, init: options.init, rng: options.rng };
    this.q = this.addModule('q', new Linear(dim, dim, lin));
    this.k = this.addModule('k', new Linear(dim, dim, lin));
    this.v = this.addModule('v', new Linear(dim, dim, lin));
    this.proj = this.addModule('proj', new Linear(dim, dim, { init: options.init, rng: options.rng }));
  }

  /** `u [B, 1+M, C]` (token 0 is the class token) → `{ out [B, 1, C], attn [B, H, 1+M] }`. */
  forward(u: tf.Tensor3D, returnAttention = false): { out: tf.Tensor3D; attn?: tf.Tensor3D } {
    const [b, m1, c] = u.shape;
    const h = this.numHeads;
    const d = this.headDim;
    if (c !== this.dim) throw new ShapeError(`ClassAttention: input dim ${c} != ${this.dim}`);
    const cls = tf.reshape(tf.slice(u, [0, 0, 0], [b, 1, c]), [b, c]);
    const q = tf.reshape(tf.mul(this.q.forward(cls), this.scale), [b * h, d]) as tf.Tensor2D;
    const heads = (t: tf.Tensor): tf.Tensor3D =>
      tf.reshape(tf.transpose(tf.reshape(t, [b, m1, h, d]), [0, 2, 1, 3]), [b * h, m1, d]) as tf.Tensor3D;
    const k = heads(this.k.forward(u));
    const v = heads(this.v.forward(u));
    const res = singleQueryAttention(q, k, v, returnAttention);
    const out = tf.reshape(this.proj.forward(tf.reshape(res.out, [b, c])), [b, 1, c]) as tf.Tensor3D;
    return res.attn ? { out, attn: tf.reshape(res.attn, [b, h, m1]) as tf.Tensor3D } : { out };
  }
}
