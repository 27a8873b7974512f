/**
 * The aggregation module `SelfPatchHead` (`ca_head`; docs/selfpatch.md §2, paper §3.2).
 *
 * `Agg(X) = CA₁(X, CA₀(X, cls_token))` pools a set of tokens into one with two class-attention
 * blocks and a learned token.
 * - `loc = false` (student): `LN(concat[Agg(X), X])` — token 0 is the image-level token, tokens
 *   1..N the patches themselves.
 * - `loc = true` (teacher): each patch is replaced by the aggregate of its k positives,
 *   `z_n = Agg(Y_n)` over the 1+k tokens `[cls, Y_n]`; `LN(concat[Agg(X), z])`.
 * `aggregation: 'avgpool'` is the paper's ablation: a plain mean replaces class attention.
 *
 * Works on any patch grid (the reference asserts N ∈ {196, 36}).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, LayerNorm, Module, ShapeError, globalRng, truncNormal, type Rng } from '@selfpatch/nn';
import { ClassAttentionBlock } from './class-attention-block.js';
import { gatherPositives } from './gather-positives.js';
import { matchPositives, type MatchingOptions, type PositiveMatches } from './positive-matching.js';

export type Aggregation = 'class-attention' | 'avgpool';

export interface SelfPatchHeadOptions {
  /** Class-attention heads (the backbone's). */
  numHeads: number;
  /** Number of class-attention blocks (2 in the official code). */
  depth?: number;
  mlpRatio?: number;
  eps?: number;
  aggregation?: Aggregation;
  rng?: Rng;
}

export interface HeadForwardOptions {
  /** Teacher path: aggregate each patch's positives. */
  loc: boolean;
  /** Patch grid of the tokens (required when `loc`). */
  grid?: { h: number; w: number };
  matching?: MatchingOptions;
}

export interface HeadOutput {
  /** `[B, 1+N, C]`: token 0 image-level, then patches. */
  out: tf.Tensor3D;
  /** The positives chosen per patch (when `loc`). */
  matches?: PositiveMatches;
}

/**
 * @example
 * ```ts
 * const head = new SelfPatchHead(384, { numHeads: 6 });
 * const student = head.forward(tokens, { loc: false }).out;                       // [B, 1+N, 384]
 * const teacher = head.forward(tokens, { loc: true, grid: { h: 14, w: 14 } }).out; // positives aggregated
 * ```
 */
export class SelfPatchHead extends Module {
  readonly clsToken: tf.Variable | null;
  readonly clsBlocks: ClassAttentionBlock[];
  readonly norm: LayerNorm;
  readonly aggregation: Aggregation;

  constructor(
    readonly dim: number,
    options: SelfPatchHeadOptions,
  ) {
    super();
    const rng = options.rng ?? globalRng();
    this.aggregation = options.aggregation ?? 'class-attention';
    if (this.aggregation !== 'class-attention' && this.aggregation !== 'avgpool') {
      throw new ConfigError('aggregation', `expected 'class-attention' or 'avgpool', got '${String(this.aggregation)}'`);
    }
    const eps = options.eps ?? 1e-6;
    const attention = this.aggregation === 'class-attention';
    this.clsToken = attention ? this.addParameter('cls_token', truncNormal([1, 1, dim], rng, { std: 0.02 })) : null;
    this.clsBlocks = attention
      ? Array.from({ length: options.depth ?? 2 }, (_, i) =>
          this.addModule(`cls_blocks.${i}`, new ClassAttentionBlock(dim, options.numHeads, options.mlpRatio ?? 4, eps, rng)),
        )
      : [];
    this.norm = this.addModule('norm', new LayerNorm(dim, eps));
  }

  /** Pools each row's tokens `x [R, M, C]` into one token `[R, 1, C]`. */
  aggregate(x: tf.Tensor3D): tf.Tensor3D {
    if (!this.clsToken) return tf.mean(x, 1, true) as tf.Tensor3D;
    const [r, , c] = x.shape;
    let t = tf.broadcastTo(this.clsToken, [r, 1, c]) as tf.Tensor3D;
    for (const block of this.clsBlocks) t = block.forward(x, t);
    return t;
  }

  forward(tokens: tf.Tensor3D, options: HeadForwardOptions): HeadOutput {
    const [b, n, c] = tokens.shape;
    if (c !== this.dim) throw new ShapeError(`SelfPatchHead: token dim ${c} != ${this.dim}`);
    const image = this.aggregate(tokens);
    if (!options.loc) return { out: this.norm.forward(tf.concat([image, tokens], 1)) as tf.Tensor3D };
    if (!options.grid) throw new ConfigError('grid', 'the patch grid is required when loc=true');
    const matches = matchPositives(tokens, options.grid, options.matching);
    const positives = gatherPositives(tokens, matches); // [B·N, k, C]
    const z = tf.reshape(this.aggregate(positives), [b, n, c]);
    return { out: this.norm.forward(tf.concat([image, z], 1)) as tf.Tensor3D, matches };
  }
}
