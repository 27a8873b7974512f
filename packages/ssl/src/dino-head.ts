/**
 * DINO projection head (SELFPATCH_SPEC §3; DINO `DINOHead`): an MLP `C → hidden → hidden →
 * bottleneck` with GELU (BatchNorm optional), L2 normalisation, then a weight-normalised linear
 * layer without bias. Keys: `mlp.{0,2,4}` (with BN: `mlp.{0,1,3,4,6}`), `last_layer.weight_g
 * [out, 1]`, `last_layer.weight_v [out, bottleneck]`; with `nlayers = 1`, `mlp.weight/bias`.
 * With `normLastLayer` (default) `weight_g` stays 1 and is not trained.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BatchNorm1d, ConfigError, defaultLinearInit, gelu, globalRng, linear, Linear, Module, type Rng } from '@selfpatch/nn';

export interface DINOHeadOptions {
  useBn?: boolean;
  normLastLayer?: boolean;
  nlayers?: number;
  hiddenDim?: number;
  bottleneckDim?: number;
  rng?: Rng;
}

/** Holds `weight_g` and `weight_v` of PyTorch's `weight_norm(nn.Linear(bottleneck, out, bias=False))`. */
class WeightNormLinear extends Module {
  readonly weightG: tf.Variable;
  readonly weightV: tf.Variable;
  constructor(inDim: number, outDim: number, trainG: boolean, rng: Rng) {
    super();
    this.weightG = this.addParameter('weight_g', tf.ones([outDim, 1]), trainG);
    this.weightV = this.addParameter('weight_v', defaultLinearInit([outDim, inDim], inDim, rng));
  }
  /** `W = g ⊙ V / ‖V‖_row` (no eps, as torch's weight_norm). */
  weight(): tf.Tensor {
    return tf.mul(this.weightG, tf.div(this.weightV, tf.norm(this.weightV, 'euclidean', 1, true)));
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
    const z = this.embed(x);
    const zn = tf.div(z, tf.maximum(tf.norm(z, 'euclidean', -1, true), 1e-12));
    return linear(zn, this.lastLayer.weight());
  }

  override train(mode = true): this {
    super.train(mode);
    for (const m of this.layers) if (m !== 'gelu') m.train(mode);
    return this;
  }
}
