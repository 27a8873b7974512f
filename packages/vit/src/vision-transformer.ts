/**
 * Vision Transformer in the two layouts the project meets (docs/selfpatch.md §1): the SelfPatch
 * backbone (no CLS, no final norm; `forward` = last-block tokens) and the DINO backbone of public
 * checkpoints (CLS + final norm; `forward` = normed CLS). Keys match the official state dicts
 * (`patch_embed.proj.*`, `pos_embed`, `cls_token`, `blocks.i.*`, `norm.*`); the SelfPatch
 * training wrapper adds the `backbone.` prefix.
 *
 * Each block runs in its own `tf.tidy`, which frees its intermediates at inference and is safe
 * under gradient recording (the tape keeps what backward needs).
 */
import * as tf from '@tensorflow/tfjs-core';
import { globalRng, LayerNorm, Module, PatchEmbed, patchGrid, ShapeError, truncNormal, type Backbone, type BackboneFeatures, type PatchGrid, type Rng } from '@selfpatch/nn';
import { Block } from './block.js';
import { validateVitConfig, type VitConfig } from './config.js';
import { interpolatePosEmbed } from './pos-embed.js';

export interface VitOptions {
  /** Initialisation RNG (default: the shared one). */
  rng?: Rng;
  /** Stochastic-depth RNG (default: forked from `rng`). */
  dropPathRng?: Rng;
}

export interface PreparedTokens {
  /** `[B, (1+)h·w, C]` */
  tokens: tf.Tensor3D;
  grid: PatchGrid;
}

/**
 * @example
 * ```ts
 * import { VisionTransformer, vitConfig } from '@selfpatch/vit';
 * const vit = new VisionTransformer(vitConfig('vit_small'));
 * vit.eval();
 * const tokens = vit.forward(tf.zeros([1, 3, 480, 832]) as tf.Tensor4D); // [1, 30·52, 384]
 * const attn = vit.getLastSelfAttention(tf.zeros([1, 3, 224, 224]) as tf.Tensor4D); // [1, 6, 196, 196]
 * ```
 */
export class VisionTransformer extends Module implements Backbone {
  readonly config: VitConfig;
  readonly patchEmbed: PatchEmbed;
  readonly clsToken: tf.Variable | null;
  readonly posEmbed: tf.Variable;
  readonly blocks: Block[];
  readonly norm: LayerNorm | null;
  /** Stochastic-depth generator (its state belongs in training checkpoints). */
  readonly dropPathRng: Rng;

  constructor(config: VitConfig, options: VitOptions = {}) {
    super();
    this.config = validateVitConfig(config);
    const c = this.config;
    const rng = options.rng ?? globalRng();
    const dpRng = options.dropPathRng ?? rng.fork('drop_path');
    this.dropPathRng = dpRng;
    this.patchEmbed = this.addModule('patch_embed', new PatchEmbed(c.patchSize, c.inChans, c.embedDim, rng));
    const n0 = (c.imgSize / c.patchSize) ** 2;
    const dino = c.layout === 'dino';
    this.clsToken = dino ? this.addParameter('cls_token', truncNormal([1, 1, c.embedDim], rng, { std: 0.02 })) : null;
    this.posEmbed = this.addParameter('pos_embed', truncNormal([1, n0 + (dino ? 1 : 0), c.embedDim], rng, { std: 0.02 }));
    this.blocks = Array.from({ length: c.depth }, (_, i) =>
      this.addModule(
        `blocks.${i}`,
        new Block({
          dim: c.embedDim,
          numHeads: c.numHeads,
          mlpRatio: c.mlpRatio,
          qkvBias: c.qkvBias,
          eps: c.layerNormEps,
          dropPath: c.depth > 1 ? (c.dropPathRate * i) / (c.depth - 1) : 0,
          rng,
          dropPathRng: dpRng,
        }),
      ),
    );
    this.norm = dino ? this.addModule('norm', new LayerNorm(c.embedDim, c.layerNormEps)) : null;
  }

  /** The patch grid for an input of `height × width` pixels. */
  gridFor(height: number, width: number): PatchGrid {
    return patchGrid(height, width, this.config.patchSize);
  }

  /** Number of tokens the blocks see for an input size (CLS included in the DINO layout). */
  numTokens(height: number, width: number): number {
    const g = this.gridFor(height, width);
    return g.h * g.w + (this.clsToken ? 1 : 0);
  }

  /** Position embeddings for a grid: `[1, (1+)h·w, C]`, interpolated as the official code does. */
  positionEmbedding(grid: PatchGrid): tf.Tensor {
    if (!this.clsToken) return interpolatePosEmbed(this.posEmbed, grid.h, grid.w);
    const [, n1, c] = this.posEmbed.shape as [number, number, number];
    const cls = tf.slice(this.posEmbed, [0, 0, 0], [1, 1, c]);
    const patches = tf.slice(this.posEmbed, [0, 1, 0], [1, n1 - 1, c]);
    const interp = interpolatePosEmbed(patches, grid.h, grid.w);
    return interp === patches ? this.posEmbed : tf.concat([cls, interp], 1);
  }

  /** Patch embedding (+ CLS) + position embedding. */
  prepareTokens(x: tf.Tensor4D): PreparedTokens {
    const { tokens, grid } = this.patchEmbed.forward(x);
    const b = x.shape[0];
    const withCls = this.clsToken
      ? tf.concat([tf.tile(this.clsToken, [b, 1, 1]), tokens], 1)
      : tokens;
    return { tokens: tf.add(withCls, this.positionEmbedding(grid)) as tf.Tensor3D, grid };
  }

  private runBlocks(x: tf.Tensor4D, keepLast: number, attnAtLast: boolean): { outs: tf.Tensor3D[]; attn?: tf.Tensor4D } {
    let h = tf.tidy(() => this.prepareTokens(x).tokens);
    const outs: tf.Tensor3D[] = [];
    let attn: tf.Tensor4D | undefined;
    const depth = this.blocks.length;
    this.blocks.forEach((block, i) => {
      const isLast = i === depth - 1;
      const res = tf.tidy(() => {
        const r = block.forward(h, isLast && attnAtLast);
        return r.attn ? [r.x, r.attn] : [r.x];
      });
      const prev = h;
      h = res[0] as tf.Tensor3D;
      if (res[1]) attn = res[1] as tf.Tensor4D;
      // Keep outputs the caller asked for; free the rest as soon as the next block has run.
      if (!outs.includes(prev)) prev.dispose();
      if (i >= depth - keepLast) outs.push(h);
    });
    return { outs, attn };
  }

  /**
   * SelfPatch layout: last-block tokens `[B, h·w, C]` (no norm). DINO layout: `norm(tokens)[:, 0]`,
   * the CLS embedding `[B, C]`.
   */
  forward(x: tf.Tensor4D): tf.Tensor {
    const { outs } = this.runBlocks(x, 1, false);
    const last = outs[0] as tf.Tensor3D;
    if (!this.norm) return last;
    const out = tf.tidy(() => {
      const normed = (this.norm as LayerNorm).forward(last);
      const [b, , c] = normed.shape as [number, number, number];
      return tf.reshape(tf.slice(normed, [0, 0, 0], [b, 1, c]), [b, c]);
    });
    last.dispose();
    return out;
  }

  /** Token width C. */
  get numFeatures(): number {
    return this.config.embedDim;
  }

  /** Pixels per grid cell: the patch size. */
  get stride(): number {
    return this.config.patchSize;
  }

  /**
   * The backbone interface: patch tokens `[B, h·w, C]` as the official `get_intermediate_layers(x,
   * 1)[0]` gives them without the class token (raw in the SelfPatch layout, normed in the DINO
   * layout), the grid, and in the DINO layout the normed class token `[B, C]` (what `forward`
   * returns there).
   */
  forwardFeatures(x: tf.Tensor4D): BackboneFeatures {
    const grid = this.gridFor(x.shape[2], x.shape[3]);
    const { outs } = this.runBlocks(x, 1, false);
    const last = outs[0] as tf.Tensor3D;
    const norm = this.norm;
    if (!norm) return { tokens: last, grid: { h: grid.h, w: grid.w } };
    const [b, n, c] = last.shape;
    const { tokens, cls } = tf.tidy(() => {
      const normed = norm.forward(last);
      return {
        cls: tf.reshape(tf.slice(normed, [0, 0, 0], [b, 1, c]), [b, c]) as tf.Tensor2D,
        tokens: tf.slice(normed, [0, 1, 0], [b, n - 1, c]) as tf.Tensor3D,
      };
    });
    last.dispose();
    return { tokens, cls, grid: { h: grid.h, w: grid.w } };
  }

  /**
   * Outputs of the last `n` blocks (oldest first): raw tokens in the SelfPatch layout, each passed
   * through the final norm in the DINO layout (as the official `get_intermediate_layers`).
   */
  getIntermediateLayers(x: tf.Tensor4D, n = 1): tf.Tensor3D[] {
    if (!Number.isInteger(n) || n < 1 || n > this.blocks.length) {
      throw new ShapeError(`getIntermediateLayers: n must be in 1..${this.blocks.length}, got ${n}`);
    }
    const { outs } = this.runBlocks(x, n, false);
    if (!this.norm) return outs;
    const normed = outs.map((o) => tf.tidy(() => (this.norm as LayerNorm).forward(o) as tf.Tensor3D));
    tf.dispose(outs);
    return normed;
  }

  /** Softmax attention of the last block for all heads: `[B, H, N, N]` (N includes CLS if any). */
  getLastSelfAttention(x: tf.Tensor4D): tf.Tensor4D {
    const { outs, attn } = this.runBlocks(x, 1, true);
    tf.dispose(outs);
    return attn as tf.Tensor4D;
  }
}
