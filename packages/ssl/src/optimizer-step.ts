/**
 * The update half of every training step, shared by the DINO and MoBY trainers (docs/selfpatch.md
 * §5 steps 4-6; docs/swin-moby.md §2 "Optimization"): abort on a non-finite loss → clip → drop the
 * last layer's gradients during the freeze epochs → AdamW over the two weight-decay groups.
 *
 * The objectives differ only in the clip rule: DINO/SelfPatch clip each parameter's gradient on its
 * own (`utils.clip_gradients`), MoBY clips the global norm (`clip_grad_norm_`). Everything an
 * objective does before (forward, loss, backward) and after (EMA, centres, queues) stays in its
 * trainer.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { AdamW, type AdamWStateDict } from './adamw.js';
import { cancelLastLayerGradients, clipGradients, clipGradNorm } from './clip-gradients.js';
import { NonFiniteLossError } from './non-finite-loss.js';
import { paramGroups, type ParamGroups } from './param-groups.js';
import { ConfigError, type RawTensor } from '@selfpatch/nn';

/** `per-parameter`: each gradient clipped to `clip` on its own; `global-norm`: all of them together. */
export type ClipRule = 'per-parameter' | 'global-norm';

export interface OptimizerStepOptions {
  /** Named parameters to train (frozen ones are skipped by the weight-decay grouping). */
  parameters: Array<[string, tf.Variable]>;
  clipRule: ClipRule;
  /** Clip threshold; 0 disables clipping. */
  clipGrad: number;
  /** Epochs during which gradients of `*last_layer*` parameters are dropped (0: never). */
  freezeLastLayer?: number;
  optimizer?: AdamW;
}

/** What one update saw: gradient norms before clipping (per parameter, or the global norm as `*`). */
export interface UpdateResult {
  gradNorms: Map<string, number>;
}

/** The values of every schedule at one iteration. */
export interface StepSchedule {
  iteration: number;
  epoch: number;
  lr: number;
  weightDecay: number;
  momentum: number;
}

/** Per-iteration schedules (float64 arrays of the same length, one value per iteration). */
export interface Schedules {
  lr: ArrayLike<number>;
  wd: ArrayLike<number>;
  momentum: ArrayLike<number>;
}

/** Serialisable state of an optimizer step: the AdamW moments and step counts. */
export type OptimizerState = AdamWStateDict;

export class OptimizerStep {
  readonly optimizer: AdamW;
  readonly groups: ParamGroups;
  private readonly options: Required<Omit<OptimizerStepOptions, 'optimizer' | 'parameters'>>;

  constructor(options: OptimizerStepOptions) {
    this.optimizer = options.optimizer ?? new AdamW();
    this.groups = paramGroups(options.parameters);
    this.options = { freezeLastLayer: 0, ...options };
  }

  /**
   * Checks the loss, clips `grads` in place, drops frozen gradients and steps AdamW. Throws
   * {@link NonFiniteLossError} before touching any weight when `loss` is not finite.
   *
   * @example
   * ```ts
   * const update = new OptimizerStep({ parameters: model.namedParameters(), clipRule: 'global-norm', clipGrad: 5 });
   * update.apply(loss, grads, { iteration: 0, epoch: 0, lr: 1e-3, weightDecay: 0.05, momentum: 0.99 });
   * ```
   */
  apply(loss: number, grads: Map<string, tf.Tensor | null>, at: StepSchedule, onGradients?: (grads: Map<string, tf.Tensor | null>) => void): UpdateResult {
    if (!Number.isFinite(loss)) throw new NonFiniteLossError(at.iteration, loss);
    onGradients?.(grads);
    const { clipRule, clipGrad, freezeLastLayer } = this.options;
    const gradNorms = clipRule === 'per-parameter' ? clipGradients(grads, clipGrad) : new Map([['*', clipGradNorm(grads, clipGrad)]]);
    cancelLastLayerGradients(grads, at.epoch, freezeLastLayer);
    this.optimizer.step(
      [
        { params: this.groups.regularized, lr: at.lr, weightDecay: at.weightDecay },
        { params: this.groups.notRegularized, lr: at.lr, weightDecay: 0 },
      ],
      grads,
    );
    return { gradNorms };
  }

  stateDict(): OptimizerState {
    return this.optimizer.stateDict();
  }

  loadStateDict(state: OptimizerState, toTensor: (raw: RawTensor) => tf.Tensor): void {
    this.optimizer.loadStateDict(state, toTensor);
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

/** Iteration `it` and its epoch, with a typed error outside a schedule of `total` iterations. */
export function iterationAt(it: number, total: number, niterPerEpoch: number): { iteration: number; epoch: number } {
  if (!Number.isInteger(it) || it < 0 || it >= total) throw new ConfigError('iteration', `${it} is outside the schedule (0..${total - 1})`);
  return { iteration: it, epoch: Math.floor(it / niterPerEpoch) };
}

/** The schedule values at iteration `it`, with a typed error outside the schedule. */
export function scheduleAt(schedules: Schedules, it: number, niterPerEpoch: number): StepSchedule {
  return {
    ...iterationAt(it, schedules.lr.length, niterPerEpoch),
    lr: schedules.lr[it] as number,
    weightDecay: schedules.wd[it] as number,
    momentum: schedules.momentum[it] as number,
  };
}
