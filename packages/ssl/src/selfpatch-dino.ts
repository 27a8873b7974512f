/**
 * The SelfPatch training network (official `MultiCropWrapper` with a ViT, `SelfPatchHead` and two
 * DINO heads; docs/selfpatch.md §3 "Wrapper"): `h = ca_head(backbone(x), loc)`, then
 * `c_head(h[:, :1])` → `[B, 1, K]` and `p_head(h[:, 1:])` → `[B, N, Kp]`.
 * Keys: `backbone.*`, `ca_head.*`, `c_head.*`, `p_head.*`.
 *
 * With `patchOutDim: 0` it is the official DINO wrapper instead (plain DINO, the ablation baseline):
 * a DINO-layout backbone whose normed CLS token goes to `head` → `[B, 1, K]`; keys `backbone.*`,
 * `head.*`; `patch` is an empty `[B, 0, 1]` so the training loop is the same.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, globalRng, imageFeature, Module, type Rng } from '@selfpatch/nn';
import { VisionTransformer, type VitConfig } from '@selfpatch/vit';
import { SelfPatchHead, type Aggregation, type MatchingOptions } from '@selfpatch/selfpatch';
import { DINOHead } from './dino-head.js';

export interface SelfPatchDINOConfig {
  backbone: VitConfig;
  /** c_head output dim (65536 officially). */
  outDim: number;
  /** p_head output dim (4096 officially); 0 builds plain DINO (needs a `dino`-layout backbone). */
  patchOutDim: number;
  hiddenDim?: number;
  bottleneckDim?: number;
  nlayers?: number;
  useBnInHead?: boolean;
  normLastLayer?: boolean;
  /** Class-attention blocks of the aggregation module (2). */
  caDepth?: number;
  aggregation?: Aggregation;
  matching?: MatchingOptions;
}

export interface WrapperOutput {
  cls: tf.Tensor3D;
  patch: tf.Tensor3D;
}

/**
 * @example
 * ```ts
 * const net = new SelfPatchDINO({ backbone: vitConfig('vit_small'), outDim: 65536, patchOutDim: 4096 });
 * const { cls, patch } = net.forward(images, true); // teacher path (positives aggregated)
 * ```
 */
export class SelfPatchDINO extends Module {
  readonly backbone: VisionTransformer;
  /** Null in plain DINO. */
  readonly caHead: SelfPatchHead | null;
  readonly cHead: DINOHead;
  /** Null in plain DINO. */
  readonly pHead: DINOHead | null;

  constructor(
    readonly config: SelfPatchDINOConfig,
    rng: Rng = globalRng(),
    dropPathRng?: Rng,
  ) {
    super();
    const c = config.backbone;
    this.backbone = this.addModule('backbone', new VisionTransformer(c, { rng, dropPathRng }));
    const head = { hiddenDim: config.hiddenDim, bottleneckDim: config.bottleneckDim, nlayers: config.nlayers, useBn: config.useBnInHead, normLastLayer: config.normLastLayer, rng };
    if (config.patchOutDim === 0) {
      if (c.layout !== 'dino') throw new ConfigError('backbone.layout', "plain DINO (patchOutDim 0) needs the 'dino' layout (a CLS token)");
      this.caHead = null;
      this.pHead = null;
      this.cHead = this.addModule('head', new DINOHead(c.embedDim, config.outDim, head));
      return;
    }
    if (c.layout !== 'selfpatch') throw new ConfigError('backbone.layout', "SelfPatch needs the 'selfpatch' layout");
    this.caHead = this.addModule('ca_head', new SelfPatchHead(c.embedDim, { numHeads: c.numHeads, depth: config.caDepth, eps: c.layerNormEps, aggregation: config.aggregation, rng }));
    this.cHead = this.addModule('c_head', new DINOHead(c.embedDim, config.outDim, head));
    this.pHead = this.addModule('p_head', new DINOHead(c.embedDim, config.patchOutDim, head));
  }

  /** True when this is plain DINO (no patch-level branch). */
  get plainDino(): boolean {
    return this.caHead === null;
  }

  forward(x: tf.Tensor4D, loc: boolean): WrapperOutput {
    if (!this.caHead || !this.pHead) {
      const feat = imageFeature(this.backbone.forwardFeatures(x));
      const cls = this.cHead.forward(tf.reshape(feat, [feat.shape[0], 1, feat.shape[1]])) as tf.Tensor3D;
      feat.dispose();
      return { cls, patch: tf.zeros([x.shape[0], 0, 1]) };
    }
    const { tokens, grid } = this.backbone.forwardFeatures(x);
    const h = this.caHead.forward(tokens, { loc, grid, matching: this.config.matching }).out;
    tokens.dispose();
    const [b, n1, c] = h.shape;
    const cls = this.cHead.forward(tf.slice(h, [0, 0, 0], [b, 1, c])) as tf.Tensor3D;
    const patch = this.pHead.forward(tf.slice(h, [0, 1, 0], [b, n1 - 1, c])) as tf.Tensor3D;
    return { cls, patch };
  }
}
