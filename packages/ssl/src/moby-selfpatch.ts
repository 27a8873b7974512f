/**
 * MoBY + SelfPatch on a grid encoder (Swin) — our design; the official SelfPatch code has no such
 * combination (docs/swin-moby.md §3):
 *
 * - Patch grid: the encoder's last-stage tokens after the final norm (`forwardFeatures`; 7×7 for
 *   Swin-T at 224, each token covering 32×32 px). The pooled MoBY feature is their mean, so one
 *   encoder pass serves both losses.
 * - Neighbourhood: the official ViT rule (3×3, torus) by default, so every token has 8 candidates
 *   and k = 4 is valid everywhere; `clamp` (edge 5, corner 3 candidates, k ≤ 3) is available.
 * - Heads: online `ca_head` (loc=false) → `p_head` (DINO-style); target `ca_head_k` (loc=true,
 *   positives aggregated) → `p_head_k`, both EMA'd with MoBY's momentum like the other target parts.
 * - Loss: MoBY's symmetric contrastive loss + λ·L_patch, with L_patch the SelfPatch patch term
 *   (same view, DINO cross-entropy with a patch center, τ_s 0.1, τ_t 0.04, center momentum 0.9);
 *   λ = 0.1 as in the ViT recipe. All of these are options.
 */
import * as tf from '@tensorflow/tfjs-core';
import { globalRng, type Backbone, type Rng } from '@selfpatch/nn';
import { patchLoss, SelfPatchHead, updatePatchCenter, type MatchingOptions, type PositiveMatches } from '@selfpatch/selfpatch';
import { DINOHead } from './dino-head.js';
import { emaUpdate } from './ema.js';
import { MoBY, normalize, type MoBYOptions } from './moby.js';


export interface MoBYSelfPatchOptions extends MoBYOptions {
  /** p_head output dim (4096). */
  patchOutDim?: number;
  patchHiddenDim?: number;
  patchBottleneckDim?: number;
  /** Class-attention heads of the aggregation module. */
  caHeads: number;
  matching?: MatchingOptions;
  /** λ (0.1). */
  patchWeight?: number;
  studentTemp?: number;
  teacherTemp?: number;
  centerMomentum?: number;
}

/**
 * @example
 * ```ts
 * const model = new MoBYSelfPatch(new SwinTransformer(swinTiny()), new SwinTransformer(swinTiny()), { numFeatures: 768, caHeads: 24 });
 * const { loss, terms, grads } = model.step(view1, view2, k, total); // terms: loss12, loss21, patch
 * ```
 */
export class MoBYSelfPatch extends MoBY {
  readonly caHead: SelfPatchHead;
  readonly caHeadK: SelfPatchHead;
  readonly pHead: DINOHead;
  readonly pHeadK: DINOHead;
  readonly patchOptions: Required<Pick<MoBYSelfPatchOptions, 'patchWeight' | 'studentTemp' | 'teacherTemp' | 'centerMomentum'>> & { matching: MatchingOptions };
  /** The positives of the last step's target pass (both views), for inspection. */
  lastMatches: PositiveMatches[] = [];

  constructor(encoder: Backbone, encoderK: Backbone, options: MoBYSelfPatchOptions) {
    super(encoder, encoderK, options);
    const rng: Rng = options.rng ?? globalRng();
    const dim = this.options.numFeatures;
    this.caHead = this.addModule('ca_head', new SelfPatchHead(dim, { numHeads: options.caHeads, eps: 1e-6, rng }));
    this.caHeadK = this.addModule('ca_head_k', new SelfPatchHead(dim, { numHeads: options.caHeads, eps: 1e-6, rng }));
    const head = { hiddenDim: options.patchHiddenDim ?? 2048, bottleneckDim: options.patchBottleneckDim ?? 256, rng };
    const out = options.patchOutDim ?? 4096;
    this.pHead = this.addModule('p_head', new DINOHead(dim, out, head));
    this.pHeadK = this.addModule('p_head_k', new DINOHead(dim, out, head));
    this.addBuffer('patch_center', tf.zeros([1, out]));
    this.patchOptions = {
      patchWeight: options.patchWeight ?? 0.1,
      studentTemp: options.studentTemp ?? 0.1,
      teacherTemp: options.teacherTemp ?? 0.04,
      centerMomentum: options.centerMomentum ?? 0.9,
      matching: options.matching ?? {},
    };
    this.caHeadK.loadStateDict(this.caHead.stateDict());
    this.pHeadK.loadStateDict(this.pHead.stateDict());
    for (const [, v] of [...this.caHeadK.namedParameters(), ...this.pHeadK.namedParameters()]) v.trainable = false;
  }

  override onlineParameters(): Array<[string, tf.Variable]> {
    return this.namedParameters().filter(([n]) => /^(encoder|projector|predictor|ca_head|p_head)\./.test(n));
  }

  override momentumUpdate(m: number): void {
    super.momentumUpdate(m);
    emaUpdate(this.caHeadK, this.caHead, m, 'MoBY+SelfPatch momentum update');
    emaUpdate(this.pHeadK, this.pHead, m, 'MoBY+SelfPatch momentum update');
  }

  protected override prepareModes(): void {
    super.prepareModes();
    this.caHead.train();
    this.pHead.train();
    this.caHeadK.eval();
    this.pHeadK.eval();
  }

  protected override targetBranch(x: tf.Tensor4D): Record<string, tf.Tensor> {
    const { tokens, grid } = this.encoderK.forwardFeatures(x);
    const out = tf.tidy(() => {
      const key = normalize(this.projectorK.forward(tf.mean(tokens, 1)));
      const agg = this.caHeadK.forward(tokens, { loc: true, grid, matching: this.patchOptions.matching });
      if (agg.matches) this.lastMatches.push(agg.matches);
      const [b, n1, c] = agg.out.shape;
      return { key, patch: this.pHeadK.forward(tf.slice(agg.out, [0, 1, 0], [b, n1 - 1, c])) };
    });
    tokens.dispose();
    return out;
  }

  protected override onlineBranch(x: tf.Tensor4D): Record<string, tf.Tensor> {
    const { tokens } = this.encoder.forwardFeatures(x);
    const pred = normalize(this.predictor.forward(this.projector.forward(tf.mean(tokens, 1))));
    const h = this.caHead.forward(tokens, { loc: false }).out;
    const [b, n1, c] = h.shape;
    return { pred, patch: this.pHead.forward(tf.slice(h, [0, 1, 0], [b, n1 - 1, c])) };
  }

  protected override lossFrom(o1: Record<string, tf.Tensor>, o2: Record<string, tf.Tensor>, t1: Record<string, tf.Tensor>, t2: Record<string, tf.Tensor>, terms: Map<string, number>): tf.Scalar {
    const image = super.lossFrom(o1, o2, t1, t2, terms);
    const p = this.patchOptions;
    const center = this.buffer('patch_center');
    // SelfPatch's patch term over the two views, each against its own target view.
    const patch = patchLoss([o1.patch as tf.Tensor3D, o2.patch as tf.Tensor3D], [t1.patch as tf.Tensor3D, t2.patch as tf.Tensor3D], center, { studentTemp: p.studentTemp, teacherTemp: p.teacherTemp });
    terms.set('patch', patch.dataSync()[0] as number);
    return tf.add(image, tf.mul(patch, p.patchWeight)) as tf.Scalar;
  }

  protected override afterStep(t1: Record<string, tf.Tensor>, t2: Record<string, tf.Tensor>): void {
    super.afterStep(t1, t2);
    this.setBuffer('patch_center', updatePatchCenter(this.buffer('patch_center'), [t1.patch as tf.Tensor, t2.patch as tf.Tensor], this.patchOptions.centerMomentum));
  }

  /** Sets τ_t of the patch targets (MoBYTrainer follows a warm-up schedule with it). */
  setPatchTeacherTemp(t: number): void {
    this.patchOptions.teacherTemp = t;
  }

  override step(view1: tf.Tensor4D, view2: tf.Tensor4D, k: number, total: number) {
    this.lastMatches = [];
    return super.step(view1, view2, k, total);
  }
}
