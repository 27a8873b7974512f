/**
 * Swin Transformer backbone (docs/swin-moby.md §1) with the official keys: `patch_embed.proj`,
 * `patch_embed.norm`, `layers.i.blocks.j.*`, `layers.i.downsample.*`, `norm`. `forward` gives the
 * pooled feature (mean of the normed last-stage tokens), what MoBY uses; `forwardFeatures` the
 * last-stage token grid (for SelfPatch and dense evaluation); `getIntermediateLayers` the stage
 * outputs; `getLastSelfAttention` the last block's window attention.
 */
import * as tf from '@tensorflow/tfjs-core';
import { globalRng, LayerNorm, Module, PatchEmbed, ShapeError, type Backbone, type BackboneFeatures, type Rng } from '@selfpatch/nn';
import { numFeatures, validateSwinConfig, type SwinConfig } from './config.js';
import { PatchMerging } from './patch-merging.js';
import { SwinBlock } from './swin-block.js';

class SwinPatchEmbed extends PatchEmbed {
  readonly norm: LayerNorm;
  constructor(patch: number, inChans: number, dim: number, eps: number, rng: Rng) {
    super(patch, inChans, dim, rng);
    this.norm = this.addModule('norm', new LayerNorm(dim, eps));
  }
}

/** One stage: blocks then (except the last) patch merging. */
class BasicLayer extends Module {
  readonly blocks: SwinBlock[] = [];
  readonly downsample: PatchMerging | null;
  constructor(blocks: SwinBlock[], downsample: PatchMerging | null) {
    super();
    blocks.forEach((b, i) => this.blocks.push(this.addModule(`blocks.${i}`, b)));
    this.downsample = downsample ? this.addModule('downsample', downsample) : null;
  }
}

export interface SwinFeatures {
  /** `[B, h·w, C]` last-stage tokens after the final norm. */
  tokens: tf.Tensor3D;
  grid: { h: number; w: number };
}

/**
 * @example
 * ```ts
 * import { SwinTransformer, swinTiny } from '@selfpatch/swin';
 * const swin = new SwinTransformer(swinTiny()).eval();
 * const feat = swin.forward(tf.zeros([1, 3, 224, 224]) as tf.Tensor4D);          // [1, 768]
 * const { tokens, grid } = swin.forwardFeatures(tf.zeros([1, 3, 480, 832]) as tf.Tensor4D); // 15×26 grid
 * ```
 */
export class SwinTransformer extends Module implements Backbone {
  readonly config: SwinConfig;
  readonly patchEmbed: SwinPatchEmbed;
  readonly layers: BasicLayer[] = [];
  readonly norm: LayerNorm;

  constructor(config: SwinConfig, options: { rng?: Rng; dropPathRng?: Rng } = {}) {
    super();
    this.config = validateSwinConfig(config);
    const c = this.config;
    const rng = options.rng ?? globalRng();
    const dpRng = options.dropPathRng ?? rng.fork('drop_path');
    this.patchEmbed = this.addModule('patch_embed', new SwinPatchEmbed(c.patchSize, c.inChans, c.embedDim, c.layerNormEps, rng));
    const total = c.depths.reduce((a, b) => a + b, 0);
    let blockIndex = 0;
    let res = Math.floor(c.imgSize / c.patchSize);
    c.depths.forEach((depth, i) => {
      const dim = c.embedDim * 2 ** i;
      const blocks = Array.from({ length: depth }, (_, j) => {
        const rate = total > 1 ? (c.dropPathRate * blockIndex) / (total - 1) : 0;
        blockIndex++;
        return new SwinBlock({
          dim,
          numHeads: c.numHeads[i] as number,
          windowSize: c.windowSize,
          shiftSize: j % 2 === 0 ? 0 : Math.floor(c.windowSize / 2),
          inputResolution: [res, res],
          mlpRatio: c.mlpRatio,
          qkvBias: c.qkvBias,
          qkScale: c.qkScale,
          eps: c.layerNormEps,
          dropPath: rate,
          rng,
          dropPathRng: dpRng,
        });
      });
      const last = i === c.depths.length - 1;
      this.layers.push(this.addModule(`layers.${i}`, new BasicLayer(blocks, last ? null : new PatchMerging(dim, c.layerNormEps, rng))));
      if (!last) res = Math.ceil(res / 2);
    });
    this.norm = this.addModule('norm', new LayerNorm(numFeatures(c), c.layerNormEps));
  }

  /** Width of the last-stage tokens. */
  get numFeatures(): number {
    return numFeatures(this.config);
  }

  /** Patch embedding + norm: `[B, h·w, C]` and the grid. */
  embed(x: tf.Tensor4D): { x: tf.Tensor3D; h: number; w: number } {
    const { tokens, grid } = this.patchEmbed.forward(x);
    return { x: this.patchEmbed.norm.forward(tokens) as tf.Tensor3D, h: grid.h, w: grid.w };
  }

  /**
   * Runs all stages. `collect` sees every block output (after the block) and stage output (after
   * downsampling); tensors it keeps must be cloned/kept by the caller.
   */
  private run(x: tf.Tensor4D, attnAtLast: boolean, collect?: (name: string, t: tf.Tensor3D) => void): { x: tf.Tensor3D; h: number; w: number; attn?: tf.Tensor4D } {
    if (x.rank !== 4 || x.shape[1] !== this.config.inChans) throw new ShapeError(`Swin expects NCHW images with ${this.config.inChans} channels, got [${x.shape.join(',')}]`);
    let cur = tf.tidy(() => this.embed(x).x);
    let h = Math.floor(x.shape[2] / this.config.patchSize);
    let w = Math.floor(x.shape[3] / this.config.patchSize);
    collect?.('patch_embed', cur);
    let attn: tf.Tensor4D | undefined;
    this.layers.forEach((layer, i) => {
      layer.blocks.forEach((block, j) => {
        const isLast = attnAtLast && i === this.layers.length - 1 && j === layer.blocks.length - 1;
        const prev = cur;
        const res = tf.tidy(() => {
          const r = block.forward(prev, h, w, isLast);
          return r.attn ? [r.x, r.attn] : [r.x];
        });
        cur = res[0] as tf.Tensor3D;
        if (res[1]) attn = res[1] as tf.Tensor4D;
        collect?.(`layers.${i}.blocks.${j}`, cur);
        prev.dispose();
      });
      if (layer.downsample) {
        const prev = cur;
        const ds = layer.downsample;
        const r = tf.tidy(() => ds.forward(prev, h, w));
        cur = r.x;
        h = r.h;
        w = r.w;
        prev.dispose();
      }
      collect?.(`layers.${i}`, cur);
    });
    return { x: cur, h, w, attn };
  }

  /** Last-stage tokens after the final norm and their grid. */
  /** Pixels per last-stage grid cell: patch size × 2 per patch merging. */
  get stride(): number {
    return this.config.patchSize * 2 ** (this.config.depths.length - 1);
  }

  forwardFeatures(x: tf.Tensor4D): SwinFeatures & BackboneFeatures {
    const r = this.run(x, false);
    const tokens = tf.tidy(() => this.norm.forward(r.x) as tf.Tensor3D);
    r.x.dispose();
    return { tokens, grid: { h: r.h, w: r.w } };
  }

  /** Pooled feature `[B, num_features]`: mean over the normed last-stage tokens. */
  forward(x: tf.Tensor4D): tf.Tensor2D {
    const { tokens } = this.forwardFeatures(x);
    const pooled = tf.tidy(() => tf.mean(tokens, 1) as tf.Tensor2D);
    tokens.dispose();
    return pooled;
  }

  /** Every block and stage output by name (`patch_embed`, `layers.i.blocks.j`, `layers.i`), plus `norm`. */
  getIntermediateLayers(x: tf.Tensor4D): Map<string, tf.Tensor3D> {
    const out = new Map<string, tf.Tensor3D>();
    const r = this.run(x, false, (name, t) => out.set(name, tf.keep(tf.clone(t))));
    out.set('norm', tf.tidy(() => this.norm.forward(r.x) as tf.Tensor3D));
    r.x.dispose();
    return out;
  }

  /** Window attention of the last block: `[B·nW, nH, N, N]` (one window per image at 224). */
  getLastSelfAttention(x: tf.Tensor4D): tf.Tensor4D {
    const r = this.run(x, true);
    r.x.dispose();
    return r.attn as tf.Tensor4D;
  }
}
