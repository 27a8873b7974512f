/**
 * The SelfPatch training network (official `MultiCropWrapper` with a ViT, `SelfPatchHead` and two
 * DINO heads; SELFPATCH_SPEC §3 "Wrapper"): `h = ca_head(backbone(x), loc)`, then
 * `c_head(h[:, :1])` → `[B, 1, K]` and `p_head(h[:, 1:])` → `[B, N, Kp]`.
 * Keys: `backbone.*`, `ca_head.*`, `c_head.*`, `p_head.*`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { globalRng, Module, type Rng } from '@selfpatch/nn';
import { VisionTransformer, type VitConfig } from '@selfpatch/vit';
import { SelfPatchHead, type Aggregation, type MatchingOptions } from '@selfpatch/selfpatch';
import { DINOHead } from './dino-head.js';

export interface SelfPatchDINOConfig {
  backbone: VitConfig;
  /** c_head output dim (65536 officially). */
  outDim: number;
  /** p_head output dim (4096 officially). */
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
  readonly caHead: SelfPatchHead;
  readonly cHead: DINOHead;
  readonly pHead: DINOHead;

  constructor(
    readonly config: SelfPatchDINOConfig,
    rng: Rng = globalRng(),
    dropPathRng?: Rng,
  ) {
    super();
    const c = config.backbone;
    this.backbone = this.addModule('backbone', new VisionTransformer(c, { rng, dropPathRng }));
    this.caHead = this.addModule('ca_head', new SelfPatchHead(c.embedDim, { numHeads: c.numHeads, depth: config.caDepth, eps: c.layerNormEps, aggregation: config.aggregation, rng }));
    const head = { hiddenDim: config.hiddenDim, bottleneckDim: config.bottleneckDim, nlayers: config.nlayers, useBn: config.useBnInHead, normLastLayer: config.normLastLayer, rng };
    this.cHead = this.addModule('c_head', new DINOHead(c.embedDim, config.outDim, head));
    this.pHead = this.addModule('p_head', new DINOHead(c.embedDim, config.patchOutDim, head));
  }

  forward(x: tf.Tensor4D, loc: boolean): WrapperOutput {
    const tokens = this.backbone.forward(x) as tf.Tensor3D;
    const grid = this.backbone.gridFor(x.shape[2], x.shape[3]);
    const h = this.caHead.forward(tokens, { loc, grid, matching: this.config.matching }).out;
    tokens.dispose();
    const [b, n1, c] = h.shape;
    const cls = this.cHead.forward(tf.slice(h, [0, 0, 0], [b, 1, c])) as tf.Tensor3D;
    const patch = this.pHead.forward(tf.slice(h, [0, 1, 0], [b, n1 - 1, c])) as tf.Tensor3D;
    return { cls, patch };
  }

  override train(mode = true): this {
    super.train(mode);
    this.backbone.train(mode);
    this.cHead.train(mode);
    this.pHead.train(mode);
    return this;
  }
}
