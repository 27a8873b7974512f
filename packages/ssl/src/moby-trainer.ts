/**
 * The MoBY / MoBY + SelfPatch training step (docs/swin-moby.md §2 "Optimization"). Read with
 * optimizer-step.ts, which holds the update half shared with DINO:
 *
 *   MoBY.step: momentum update of the target branch with m(k) → target keys (no tape) → online
 *   predictions and the symmetric contrastive loss (+ λ·patch term) under one tape → enqueue keys
 *   → OptimizerStep: abort on a non-finite loss → clip the global gradient norm → AdamW with the
 *   per-iteration lr (`mobyLrSchedule` gives the official one) and a constant weight decay.
 *
 * The momentum schedule `m(k)` runs over every iteration of the schedule (K = lr.length), as the
 * official trainer's `K = epochs · steps per epoch`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, rawStateDict, rawToTensor, type RawTensor, type Rng, type RngState } from '@selfpatch/nn';
import type { AdamW } from './adamw.js';
import type { MoBY } from './moby.js';
import { MoBYSelfPatch } from './moby-selfpatch.js';
import { OptimizerStep, iterationAt, type OptimizerState } from './optimizer-step.js';
import type { TrainStepResult } from './train-step-result.js';

export interface MoBYTrainerOptions {
  model: MoBY;
  /** Learning rate per iteration (its length is the run's iteration count). */
  lr: ArrayLike<number>;
  /** Weight decay of the decayed group (constant in MoBY's recipe, 0.05). */
  weightDecay: number;
  niterPerEpoch: number;
  /** Global gradient-norm clip (5.0); 0 disables. */
  clipGrad?: number;
  /**
   * MoBY+SelfPatch: the patch teacher temperature per epoch (e.g. `teacherTempSchedule`); the last
   * value holds past its end. Without it the model's `teacherTemp` option stays.
   */
  patchTeacherTemp?: ArrayLike<number>;
  /** The online encoder's drop-path generator, saved and restored with the state. */
  dropPathRng?: Rng;
  optimizer?: AdamW;
}

/** Everything needed to continue exactly: the model's state dict (both branches, queues), AdamW, drop-path RNG. */
export interface MoBYTrainerState {
  model: Record<string, RawTensor>;
  optimizer: OptimizerState;
  dropPathRng: RngState | null;
}

/**
 * @example
 * ```ts
 * const model = new MoBY(new SwinTransformer(swinTiny()), new SwinTransformer(swinTiny()), { numNegative: 4096 });
 * const trainer = new MoBYTrainer({ model, lr: cosineSchedule(1e-3, 1e-5, 300, 2502, 10), weightDecay: 0.05, niterPerEpoch: 2502 });
 * const r = trainer.step([view1, view2], 0);
 * console.log(r.loss, r.terms.loss12, r.momentum);
 * ```
 */
export class MoBYTrainer {
  readonly model: MoBY;
  readonly update: OptimizerStep;
  private readonly options: MoBYTrainerOptions;

  constructor(options: MoBYTrainerOptions) {
    if (!(options.weightDecay >= 0)) throw new ConfigError('weight_decay', `must be a non-negative number, got ${options.weightDecay}`);
    this.model = options.model;
    this.options = options;
    this.update = new OptimizerStep({
      parameters: this.model.onlineParameters(),
      clipRule: 'global-norm',
      clipGrad: options.clipGrad ?? 5.0,
      ...(options.optimizer ? { optimizer: options.optimizer } : {}),
    });
  }

  get optimizer(): AdamW {
    return this.update.optimizer;
  }

  /** Runs iteration `it` on the two views (`crops = [view1, view2]`, each `[B, 3, H, W]`). */
  step(crops: tf.Tensor4D[], it: number): TrainStepResult {
    if (crops.length !== 2) throw new ConfigError('crops', `MoBY trains on exactly two views, got ${crops.length}`);
    const total = this.options.lr.length;
    const at = iterationAt(it, total, this.options.niterPerEpoch);
    const tau = this.options.patchTeacherTemp;
    let teacherTemp: number | undefined;
    if (tau && tau.length > 0 && this.model instanceof MoBYSelfPatch) {
      teacherTemp = tau[Math.min(at.epoch, tau.length - 1)] as number;
      this.model.setPatchTeacherTemp(teacherTemp);
    }
    const r = this.model.step(crops[0] as tf.Tensor4D, crops[1] as tf.Tensor4D, it, total);
    const grads = new Map<string, tf.Tensor | null>(r.grads);
    try {
      const schedule = { ...at, lr: this.options.lr[it] as number, weightDecay: this.options.weightDecay, momentum: r.momentum };
      const { gradNorms } = this.update.apply(r.loss, grads, schedule);
      return { ...schedule, loss: r.loss, terms: Object.fromEntries(r.terms), gradNorms, ...(teacherTemp !== undefined ? { teacherTemp } : {}) };
    } finally {
      tf.dispose([...grads.values()].filter((g): g is tf.Tensor => g !== null));
    }
  }

  getState(): MoBYTrainerState {
    return { model: rawStateDict(this.model.stateDict()), optimizer: this.update.stateDict(), dropPathRng: this.options.dropPathRng?.getState() ?? null };
  }

  /** Restores a {@link getState} snapshot (strict: the architecture must match). */
  setState(state: MoBYTrainerState): void {
    this.model.loadStateDict(state.model, { context: 'trainer state (model)' });
    this.update.loadStateDict(state.optimizer, rawToTensor);
    if (state.dropPathRng && this.options.dropPathRng) this.options.dropPathRng.setState(state.dropPathRng);
  }

  /** Frees the optimizer state (the model belongs to the caller). */
  dispose(): void {
    this.update.dispose();
  }
}
