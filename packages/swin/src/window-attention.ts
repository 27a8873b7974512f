/**
 * Window multi-head self-attention with relative position bias (docs/swin-moby.md §1): keys `qkv`,
 * `proj`, `relative_position_bias_table [(2ws−1)², nH]`, buffer `relative_position_index`.
 * `q` is scaled before `q kᵀ`, then bias and (shifted windows) mask are added, as the reference.
 * The bias lookup is a one-hot matMul (differentiable without gather). The core runs through nn's
 * `attentionWithBias` (one SIMD kernel each way on wasm, where batched matMuls are a scalar loop),
 * with the mask folded into the bias; only the `returnAttention` path spells it out.
 */
import * as tf from '@tensorflow/tfjs-core';
import { attentionWithBias, globalRng, Linear, matmul2d, Module, truncNormal, type Rng } from '@selfpatch/nn';
import { relativePositionIndex } from './windows.js';

const oneHotCache = new Map<number, tf.Tensor2D>();

function oneHotIndex(ws: number): tf.Tensor2D {
  let t = oneHotCache.get(ws);
  if (!t || t.isDisposed) {
    const idx = relativePositionIndex(ws);
    const table = (2 * ws - 1) ** 2;
    const m = new Float32Array(idx.length * table);
    idx.forEach((v, i) => (m[i * table + v] = 1));
    t = tf.keep(tf.tensor2d(m, [idx.length, table]));
    oneHotCache.set(ws, t);
  }
  return t;
}

export class WindowAttention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly table: tf.Variable;
  readonly headDim: number;
  readonly scale: number;

  constructor(
    readonly dim: number,
    readonly windowSize: number,
    readonly numHeads: number,
    options: { qkvBias?: boolean; qkScale?: number; rng?: Rng } = {},
  ) {
    super();
    const rng = options.rng ?? globalRng();
    this.headDim = dim / numHeads;
    this.scale = options.qkScale ?? this.headDim ** -0.5;
    this.table = this.addParameter('relative_position_bias_table', truncNormal([(2 * windowSize - 1) ** 2, numHeads], rng, { std: 0.02 }));
    this.addBuffer('relative_position_index', tf.tensor2d(relativePositionIndex(windowSize), [windowSize ** 2, windowSize ** 2], 'int32'));
    this.qkv = this.addModule('qkv', new Linear(dim, 3 * dim, { bias: options.qkvBias ?? true, rng }));
    this.proj = this.addModule('proj', new Linear(dim, dim, { rng }));
  }

  /** `[nH, N, N]` bias from the table. */
  bias(): tf.Tensor3D {
    const n = this.windowSize ** 2;
    return tf.transpose(tf.reshape(matmul2d(oneHotIndex(this.windowSize), this.table), [n, n, this.numHeads]), [2, 0, 1]) as tf.Tensor3D;
  }

  /** `x [B·nW, N, C]`, optional `mask [nW, N, N]` → `[B·nW, N, C]` (+ attention `[B·nW, nH, N, N]`). */
  forward(x: tf.Tensor3D, mask: tf.Tensor3D | null, returnAttention = false): { out: tf.Tensor3D; attn?: tf.Tensor4D } {
    const [bw, n] = x.shape;
    const h = this.numHeads;
    const d = this.headDim;
    const qkv = tf.reshape(tf.transpose(tf.reshape(this.qkv.forward(x), [bw, n, 3 * h, d]), [0, 2, 1, 3]), [bw, 3, h * n * d]);
    const [q, k, v] = tf.split(qkv, 3, 1).map((t) => tf.reshape(t, [bw * h, n, d]) as tf.Tensor3D) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    const bias = this.scoreBias(mask);
    if (!returnAttention) {
      // q is scaled first, as the reference does (same rounding); the kernel's own scale is 1.
      const o = attentionWithBias(tf.mul(q, this.scale), k, v, bias, 1);
      return { out: this.proj.forward(this.mergeHeads(o, bw, n)) as tf.Tensor3D };
    }
    const g = bias.shape[0];
    const scores = tf.reshape(tf.add(tf.reshape(tf.matMul(tf.mul(q, this.scale), k, false, true), [(bw * h) / g, g, n, n]), bias), [bw, h, n, n]);
    const attn = tf.softmax(scores) as tf.Tensor4D;
    const o = tf.matMul(tf.reshape(attn, [bw * h, n, n]), v) as tf.Tensor3D;
    return { out: this.proj.forward(this.mergeHeads(o, bw, n)) as tf.Tensor3D, attn };
  }

  /**
   * The score bias of slice (window w, head j), by group: `[nH, N, N]` (group j), or with a shift
   * mask `[nW, N, N]` folded in, `[nW·nH, N, N]` (group w·nH + j).
   */
  private scoreBias(mask: tf.Tensor3D | null): tf.Tensor3D {
    if (!mask) return this.bias();
    const [nw, n] = mask.shape;
    const h = this.numHeads;
    return tf.reshape(tf.add(tf.reshape(this.bias(), [1, h, n, n]), tf.reshape(mask, [nw, 1, n, n])), [nw * h, n, n]) as tf.Tensor3D;
  }

  /** `[B·nW·nH, N, d]` → `[B·nW, N, C]`. */
  private mergeHeads(o: tf.Tensor3D, bw: number, n: number): tf.Tensor3D {
    return tf.reshape(tf.transpose(tf.reshape(o, [bw, this.numHeads, n, this.headDim]), [0, 2, 1, 3]), [bw, n, this.dim]) as tf.Tensor3D;
  }
}
