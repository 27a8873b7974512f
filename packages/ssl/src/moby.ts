/**
 * MoBY (docs/swin-moby.md §2): an online branch encoder → projector → predictor and a momentum target
 * branch encoder_k → projector_k, a symmetric contrastive loss against two queues of past target
 * keys. Keys as the official `MoBY` module: `encoder.*`, `encoder_k.*`, `projector.*`,
 * `projector_k.*`, `predictor.*`, `queue1`, `queue2`, `queue_ptr`.
 *
 * One step, in the reference's order: online predictions (BN statistics per view) → momentum
 * update of the target *parameters* with `m(k)`, then `k += 1` → targets from the updated target
 * branch (no gradient; its BN buffers update from its own forward) → loss with the queues as they
 * were → enqueue both views' keys.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BatchNorm1d, ConfigError, l2norm, l2normalize, Linear, Module, globalRng, imageFeature, type Backbone, type Rng } from '@selfpatch/nn';
import { emaUpdate } from './ema.js';
import { NonFiniteLossError } from './non-finite-loss.js';


/**
 * `MoBYMLP`: `(Linear → BatchNorm1d → ReLU) × (numLayers − 1) → Linear`; keys
 * `linear_hidden.{1+3i}` (Linear), `linear_hidden.{2+3i}` (BN), `linear_out`.
 */
export class MoBYMLP extends Module {
  private readonly hidden: Array<[Linear, BatchNorm1d]> = [];
  readonly linearOut: Linear;

  constructor(inDim: number, innerDim = 4096, outDim = 256, numLayers = 2, rng: Rng = globalRng()) {
    super();
    let d = inDim;
    for (let i = 0; i < numLayers - 1; i++) {
      const lin = this.addModule(`linear_hidden.${1 + 3 * i}`, new Linear(d, innerDim, { rng }));
      const bn = this.addModule(`linear_hidden.${2 + 3 * i}`, new BatchNorm1d(innerDim));
      this.hidden.push([lin, bn]);
      d = innerDim;
    }
    this.linearOut = this.addModule('linear_out', new Linear(d, outDim, { rng }));
  }

  forward(x: tf.Tensor): tf.Tensor {
    let h = x;
    for (const [lin, bn] of this.hidden) h = tf.relu(bn.forward(lin.forward(h)));
    return this.linearOut.forward(h);
  }
}

/** MoBY's momentum at step k of K: `1 − (1 − m0)·(cos(πk/K) + 1)/2`. */
export function mobyMomentum(k: number, total: number, m0 = 0.99): number {
  return 1 - ((1 - m0) * (Math.cos((Math.PI * k) / total) + 1)) / 2;
}

/** `CE([q·k, q·Q]/τ, label 0)` averaged over the batch; `q, k [B, D]` normalised, `Q [D, Kneg]`. */
export function contrastiveLoss(q: tf.Tensor2D, k: tf.Tensor2D, queue: tf.Tensor2D, temperature: number): tf.Scalar {
  return tf.tidy(() => {
    const pos = tf.sum(tf.mul(q, k), 1, true);
    const neg = tf.matMul(q, queue);
    const logits = tf.div(tf.concat([pos, neg], 1), temperature);
    return tf.mean(tf.sub(tf.logSumExp(logits, 1), tf.reshape(tf.slice(logits, [0, 0], [-1, 1]), [-1]))) as tf.Scalar;
  });
}

export function normalize(x: tf.Tensor): tf.Tensor2D {
  return l2normalize(x) as tf.Tensor2D;
}

export interface MoBYOptions {
  /** Feature size of the encoder output (768 for Swin-T, 384 for DeiT-S); the encoder's `numFeatures` by default. */
  numFeatures?: number;
  innerDim?: number;
  outDim?: number;
  projLayers?: number;
  predLayers?: number;
  /** Queue length K_neg (4096). */
  numNegative?: number;
  temperature?: number;
  /** m0 (0.99). */
  momentum?: number;
  rng?: Rng;
}

export interface MoBYStepResult {
  loss: number;
  loss12: number;
  loss21: number;
  momentum: number;
  /** Every named loss term (loss12, loss21, and subclasses' terms). */
  terms: Map<string, number>;
  /** d(loss)/d(online parameter) by name (caller disposes). */
  grads: Map<string, tf.Tensor>;
}

/**
 * @example
 * ```ts
 * const moby = new MoBY(new SwinTransformer(swinTiny()), new SwinTransformer(swinTiny()), { numNegative: 4096 });
 * const { loss, grads } = moby.step(view1, view2, k, totalSteps);
 * ```
 */
export class MoBY extends Module {
  readonly encoder: Backbone;
  readonly encoderK: Backbone;
  readonly projector: MoBYMLP;
  readonly projectorK: MoBYMLP;
  readonly predictor: MoBYMLP;
  readonly options: Required<Omit<MoBYOptions, 'rng'>>;

  constructor(encoder: Backbone, encoderK: Backbone, options: MoBYOptions) {
    super();
    const rng = options.rng ?? globalRng();
    this.options = { numFeatures: encoder.numFeatures, innerDim: 4096, outDim: 256, projLayers: 2, predLayers: 2, numNegative: 4096, temperature: 0.2, momentum: 0.99, ...options };
    const o = this.options;
    this.encoder = this.addModule('encoder', encoder);
    this.encoderK = this.addModule('encoder_k', encoderK);
    this.projector = this.addModule('projector', new MoBYMLP(o.numFeatures, o.innerDim, o.outDim, o.projLayers, rng));
    this.projectorK = this.addModule('projector_k', new MoBYMLP(o.numFeatures, o.innerDim, o.outDim, o.projLayers, rng));
    this.predictor = this.addModule('predictor', new MoBYMLP(o.outDim, o.innerDim, o.outDim, o.predLayers, rng));
    const queue = (): tf.Tensor => {
      const t = tf.tensor2d(Float32Array.from({ length: o.outDim * o.numNegative }, () => rng.normal()), [o.outDim, o.numNegative]);
      return tf.tidy(() => tf.div(t, tf.maximum(l2norm(t, 0, true), 1e-12)));
    };
    this.addBuffer('queue1', queue());
    this.addBuffer('queue2', queue());
    this.addBuffer('queue_ptr', tf.tensor1d([0], 'int32'));
    // The target starts as a copy of the online branch and is never trained.
    this.encoderK.loadStateDict(this.encoder.stateDict());
    this.projectorK.loadStateDict(this.projector.stateDict());
    for (const [, v] of [...this.encoderK.namedParameters(), ...this.projectorK.namedParameters()]) v.trainable = false;
  }

  /** Online parameters (what the optimizer trains). */
  onlineParameters(): Array<[string, tf.Variable]> {
    return this.namedParameters().filter(([n]) => n.startsWith('encoder.') || n.startsWith('projector.') || n.startsWith('predictor.'));
  }

  /** `θ_k ← m·θ_k + (1−m)·θ_q` for encoder and projector parameters (BN buffers excluded). */
  momentumUpdate(m: number): void {
    emaUpdate(this.encoderK, this.encoder, m, 'MoBY momentum update');
    emaUpdate(this.projectorK, this.projector, m, 'MoBY momentum update');
  }

  /** Normalised target keys for a view (no gradient). */
  targetKeys(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => normalize(this.projectorK.forward(imageFeature(this.encoderK.forwardFeatures(x)))));
  }

  protected enqueue(k1: tf.Tensor2D, k2: tf.Tensor2D): void {
    const b = k1.shape[0];
    const kneg = this.options.numNegative;
    if (kneg % b !== 0) throw new ConfigError('contrast_num_negative', `queue length ${kneg} must be a multiple of the batch ${b}`);
    const ptr = this.buffer('queue_ptr').dataSync()[0] as number;
    for (const [name, keys] of [['queue1', k1], ['queue2', k2]] as const) {
      const next = tf.tidy(() => {
        const q = this.buffer(name);
        const parts = [tf.slice(q, [0, 0], [-1, ptr]), tf.transpose(keys), tf.slice(q, [0, ptr + b], [-1, kneg - ptr - b])];
        return tf.concat(parts.filter((p) => p.shape[1] !== 0), 1);
      });
      this.setBuffer(name, next);
    }
    this.setBuffer('queue_ptr', tf.tensor1d([(ptr + b) % kneg], 'int32'));
  }

  /** Target-branch outputs for one view (no gradient). Subclasses add their own parts. */
  protected targetBranch(x: tf.Tensor4D): Record<string, tf.Tensor> {
    return { key: this.targetKeys(x) };
  }

  /** Online-branch outputs for one view (inside the tape). */
  protected onlineBranch(x: tf.Tensor4D): Record<string, tf.Tensor> {
    return { pred: normalize(this.predictor.forward(this.projector.forward(imageFeature(this.encoder.forwardFeatures(x))))) };
  }

  /** The loss from both views' online and target outputs; records named terms. */
  protected lossFrom(o1: Record<string, tf.Tensor>, o2: Record<string, tf.Tensor>, t1: Record<string, tf.Tensor>, t2: Record<string, tf.Tensor>, terms: Map<string, number>): tf.Scalar {
    const q1 = this.buffer('queue1') as tf.Tensor2D;
    const q2 = this.buffer('queue2') as tf.Tensor2D;
    const l12 = contrastiveLoss(o1.pred as tf.Tensor2D, t2.key as tf.Tensor2D, q2, this.options.temperature);
    const l21 = contrastiveLoss(o2.pred as tf.Tensor2D, t1.key as tf.Tensor2D, q1, this.options.temperature);
    terms.set('loss12', l12.dataSync()[0] as number);
    terms.set('loss21', l21.dataSync()[0] as number);
    return tf.add(l12, l21) as tf.Scalar;
  }

  /** State updates after the loss (enqueue; subclasses add theirs). */
  protected afterStep(t1: Record<string, tf.Tensor>, t2: Record<string, tf.Tensor>): void {
    this.enqueue(t1.key as tf.Tensor2D, t2.key as tf.Tensor2D);
  }

  /** Sets train/eval modes for a step: online branch trains, target encoder runs in eval mode. */
  protected prepareModes(): void {
    this.encoder.train();
    this.projector.train();
    this.predictor.train();
    this.projectorK.train();
    this.encoderK.eval();
  }

  /**
   * One MoBY step on two views `[B, 3, H, W]` at momentum step `k` of `total`: returns the loss and
   * the online gradients, and updates the target branch, BN statistics and queues.
   */
  step(view1: tf.Tensor4D, view2: tf.Tensor4D, k: number, total: number): MoBYStepResult {
    this.prepareModes();
    // The online forward only reads online weights, so updating the target first is equivalent
    // to the reference's order (online forward, then momentum update, then targets).
    const m = mobyMomentum(k, total, this.options.momentum);
    this.momentumUpdate(m);
    const t1 = this.targetBranch(view1);
    const t2 = this.targetBranch(view2);
    const terms = new Map<string, number>();
    const vars = this.onlineParameters().filter(([, v]) => v.trainable);
    try {
      const { value, grads } = tf.variableGrads(() => this.lossFrom(this.onlineBranch(view1), this.onlineBranch(view2), t1, t2, terms), vars.map(([, v]) => v));
      const loss = value.dataSync()[0] as number;
      value.dispose();
      const byName = new Map<string, tf.Tensor>();
      for (const [name, v] of vars) {
        const g = grads[v.name];
        if (g) byName.set(name, g);
      }
      if (!Number.isFinite(loss)) {
        tf.dispose([...byName.values()]);
        throw new NonFiniteLossError(k, loss, 'MoBY loss', 'the optimizer did not step; queues and centres were not updated');
      }
      this.afterStep(t1, t2);
      return { loss, loss12: terms.get('loss12') as number, loss21: terms.get('loss21') as number, terms, momentum: m, grads: byName };
    } finally {
      tf.dispose([...Object.values(t1), ...Object.values(t2)]);
    }
  }
}
