/**
 * DINO projection head (docs/selfpatch.md §3; DINO `DINOHead`): an MLP `C → hidden → hidden →
 * bottleneck` with GELU (BatchNorm optional), L2 normalisation, then a weight-normalised linear
 * layer without bias. Keys: `mlp.{0,2,4}` (with BN: `mlp.{0,1,3,4,6}`), `last_layer.weight_g
 * [out, 1]`, `last_layer.weight_v [out, bottleneck]`; with `nlayers = 1`, `mlp.weight/bias`.
 * With `normLastLayer` (default) `weight_g` stays 1 and is not trained.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BatchNorm1d, ConfigError, defaultLinearInit, defineOp, DerivedTensors, gelu, globalRng, l2normalize, Linear, Module, type Rng } from '@selfpatch/nn';

export interface DINOHeadOptions {
  useBn?: boolean;
  normLastLayer?: boolean;
  nlayers?: number;
  hiddenDim?: number;
  bottleneckDim?: number;
  rng?: Rng;
}

/**
 * `y = x Wᵀ` with `W = g ⊙ V/‖V‖_row` (torch `weight_norm`, no eps), as one op:
 * `y = (x Vᵀ) ⊙ s`, `s = g/n`, `n = ‖V‖_row`; gradients
 * `dx = (dy ⊙ s) V`, `dV = (dy ⊙ s)ᵀ x + (dn/n) ⊙ V` with `dn = −Σ_b dy ⊙ (x Vᵀ) · g/n²`,
 * `dg = Σ_b dy ⊙ (x Vᵀ) / n`. `W` is never materialised, and `n` (and `Vᵀ`, when used) are computed
 * once per value of `V` (the head is called per crop group / micro-batch, `V` changes once per step).
 * With fewer rows than `V` has columns (the CLS head: a few images against 65536 prototypes),
 * `x Vᵀ` is computed as `(V xᵀ)ᵀ`: transposing that small product is cheaper than `Vᵀ`, a 16.7 M
 * element transpose at every step for the student and again for the EMA teacher.
 */
class WeightNormLinear extends Module {
  readonly weightG: tf.Variable;
  readonly weightV: tf.Variable;
  private readonly norms: DerivedTensors<[tf.Tensor2D]>; // row norms [out, 1]
  private readonly vt: DerivedTensors<[tf.Tensor2D]>;

  constructor(inDim: number, outDim: number, trainG: boolean, rng: Rng) {
    super();
    this.weightG = this.addParameter('weight_g', tf.ones([outDim, 1]), trainG);
    this.weightV = this.addParameter('weight_v', defaultLinearInit([outDim, inDim], inDim, rng));
    this.norms = new DerivedTensors(this.weightV, (v) => [tf.sqrt(tf.sum(tf.square(v), 1, true)) as tf.Tensor2D]);
    this.vt = new DerivedTensors(this.weightV, (v) => [tf.transpose(v) as tf.Tensor2D]);
  }

  /** `x Vᵀ` (`v` is the weight or its saved copy: same value). */
  private xvt(x: tf.Tensor2D, v: tf.Tensor2D): tf.Tensor2D {
    if ((x.shape[0] as number) < (v.shape[1] as number)) return tf.transpose(tf.matMul(v, tf.transpose(x))) as tf.Tensor2D;
    return tf.matMul(x, this.vt.get()[0]);
  }

  /** `W = g ⊙ V / ‖V‖_row` (for export and checks; the forward never builds it). */
  weight(): tf.Tensor {
    return tf.tidy(() => tf.mul(this.weightG, tf.div(this.weightV, tf.sqrt(tf.sum(tf.square(this.weightV), 1, true)))));
  }

  forward(x: tf.Tensor): tf.Tensor {
    const [norms] = this.norms.get();
    const op = defineOp(3, ([xi, v, g], save) => {
      save([xi as tf.Tensor, v as tf.Tensor, g as tf.Tensor]);
      const scale = tf.reshape(tf.div(g as tf.Tensor, norms), [-1]);
      return {
        value: tf.mul(this.xvt(xi as tf.Tensor2D, v as tf.Tensor2D), scale),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [sx, sv, sg] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
          const n = tf.reshape(norms, [-1]);
          const gFlat = tf.reshape(sg, [-1]);
          const raw = this.xvt(sx, sv);
          const dyScaled = tf.mul(dy, tf.div(gFlat, n));
          const dRawScale = tf.sum(tf.mul(dy, raw), 0); // Σ_b dy ⊙ (x Vᵀ), [out]
          const dx = tf.matMul(dyScaled as tf.Tensor2D, sv);
          const dn = tf.neg(tf.div(tf.mul(dRawScale, gFlat), tf.square(n)));
          const dv = tf.add(tf.matMul(tf.transpose(dyScaled as tf.Tensor2D), sx), tf.mul(sv, tf.reshape(tf.div(dn, n), [-1, 1])));
          const dg = tf.reshape(tf.div(dRawScale, n), [-1, 1]);
          return [dx, dv, dg];
        },
      };
    });
    const lead = x.shape.slice(0, -1);
    const y = op(tf.reshape(x, [-1, x.shape[x.rank - 1] as number]), this.weightV, this.weightG);
    return tf.reshape(y, [...lead, this.weightV.shape[0] as number]);
  }

  override dispose(): void {
    this.norms.dispose();
    this.vt.dispose();
    super.dispose();
  }
}

/**
 * @example
 * ```ts
 * const head = new DINOHead(384, 65536);          // c_head of vit_small
 * const logits = head.forward(tf.randomNormal([8, 384])); // [8, 65536]
 * ```
 */
export class DINOHead extends Module {
  private readonly layers: Array<Linear | BatchNorm1d | 'gelu'> = [];
  readonly lastLayer: WeightNormLinear;

  constructor(
    readonly inDim: number,
    readonly outDim: number,
    options: DINOHeadOptions = {},
  ) {
    super();
    const rng = options.rng ?? globalRng();
    const nlayers = Math.max(options.nlayers ?? 3, 1);
    const hidden = options.hiddenDim ?? 2048;
    const bottleneck = options.bottleneckDim ?? 256;
    if (!Number.isInteger(outDim) || outDim < 1) throw new ConfigError('out_dim', `must be a positive integer, got ${outDim}`);
    if (nlayers === 1) {
      this.layers.push(this.addModule('mlp', new Linear(inDim, bottleneck, { rng })));
    } else {
      const seq: Array<Linear | BatchNorm1d | 'gelu'> = [new Linear(inDim, hidden, { rng })];
      if (options.useBn) seq.push(new BatchNorm1d(hidden));
      seq.push('gelu');
      for (let i = 0; i < nlayers - 2; i++) {
        seq.push(new Linear(hidden, hidden, { rng }));
        if (options.useBn) seq.push(new BatchNorm1d(hidden));
        seq.push('gelu');
      }
      seq.push(new Linear(hidden, bottleneck, { rng }));
      seq.forEach((m, i) => this.layers.push(m === 'gelu' ? m : this.addModule(`mlp.${i}`, m)));
    }
    this.lastLayer = this.addModule('last_layer', new WeightNormLinear(bottleneck, outDim, !(options.normLastLayer ?? true), rng));
  }

  /** Bottleneck features before normalisation, `[..., bottleneck]`. */
  embed(x: tf.Tensor): tf.Tensor {
    const lead = x.shape.slice(0, -1);
    let h = tf.reshape(x, [-1, x.shape[x.rank - 1] as number]);
    for (const m of this.layers) h = m === 'gelu' ? gelu(h) : m.forward(h);
    return tf.reshape(h, [...lead, h.shape[1] as number]);
  }

  /** `[..., in]` → logits `[..., out]`. */
  forward(x: tf.Tensor): tf.Tensor {
    return this.lastLayer.forward(l2normalize(this.embed(x)));
  }
}
