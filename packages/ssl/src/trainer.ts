/**
 * One DINO + SelfPatch training iteration (docs/selfpatch.md §5 "One iteration"; docs/architecture.md §3):
 *
 *   teacher(all crops, loc=true)  [no tape; blocks tidied]  → targets with the current centers
 *   student(all crops, loc=false) in micro-batches, each `variableGrads` of its share of the loss,
 *   gradients accumulated (exactly the single-graph gradient: the loss is a sum of per-crop,
 *   per-image terms once the targets are fixed)
 *   → abort on a non-finite loss → clip per parameter → cancel last-layer grads (epoch <
 *   freeze_last_layer) → AdamW (lr, wd from the schedules) → EMA teacher → update centers.
 *
 * Memory: only one micro-batch's graph is taped at a time, which keeps a ViT-Ti multi-crop step
 * inside wasm's 4 GB heap (docs/tfjs-backends.md §7).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, rawToTensor, tensorToRaw, withWeightCache, type RawTensor, type RngState } from '@selfpatch/nn';
import type { AdamWStateDict } from './adamw.js';
import { AdamW } from './adamw.js';
import { cancelLastLayerGradients, clipGradients } from './clip-gradients.js';
import { DINOLoss, type DINOTargets } from './dino-loss.js';
import { emaUpdate } from './ema.js';
import { NonFiniteLossError } from './non-finite-loss.js';
import { paramGroups, type ParamGroups } from './param-groups.js';
import type { SelfPatchDINO } from './selfpatch-dino.js';

export interface Schedules {
  lr: ArrayLike<number>;
  wd: ArrayLike<number>;
  momentum: ArrayLike<number>;
}

export interface TrainerOptions {
  student: SelfPatchDINO;
  teacher: SelfPatchDINO;
  loss: DINOLoss;
  schedules: Schedules;
  niterPerEpoch: number;
  /** Per-parameter clip (3.0); 0 disables. */
  clipGrad?: number;
  /** Epochs during which last-layer gradients are dropped (1). */
  freezeLastLayer?: number;
  /** Max images per student forward/backward graph (default: a whole crop group). */
  microBatch?: number;
  /** Max images per teacher forward (default: a whole crop group). */
  teacherMicroBatch?: number;
  /** One taped graph over every crop (the naive baseline; needs the most memory). */
  singleGraph?: boolean;
  optimizer?: AdamW;
}

export interface StepResult {
  iteration: number;
  epoch: number;
  loss: number;
  clsLoss: number;
  patchLoss: number;
  lr: number;
  weightDecay: number;
  momentum: number;
  teacherTemp: number;
  /** Pre-clip gradient norms by parameter name. */
  gradNorms: Map<string, number>;
}

/**
 * Everything needed to continue training exactly (the loop adds its own position and data order):
 * weights by PyTorch key, AdamW moments and step counts, both centers, the drop-path RNG.
 */
export interface TrainerState {
  student: Record<string, RawTensor>;
  teacher: Record<string, RawTensor>;
  optimizer: AdamWStateDict;
  center: RawTensor;
  patchCenter: RawTensor;
  dropPathRng: RngState;
}

export interface StepHooks {
  /** Sees the accumulated gradients before clipping (tests, debugging). Do not dispose them. */
  onGradients?: (grads: Map<string, tf.Tensor | null>) => void;
}

/** Consecutive crops with the same resolution, run as one concatenated batch (as the reference). */
function cropGroups(crops: tf.Tensor4D[]): number[][] {
  const groups: number[][] = [];
  crops.forEach((c, i) => {
    const last = groups[groups.length - 1];
    const prev = last ? (crops[last[0] as number] as tf.Tensor4D) : null;
    if (last && prev && prev.shape[2] === c.shape[2] && prev.shape[3] === c.shape[3]) last.push(i);
    else groups.push([i]);
  });
  return groups;
}

/** Splits rows `[0, total)` of a crop group into chunks of at most `size` (crop-major rows). */
function chunks(total: number, size: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let s = 0; s < total; s += size) out.push([s, Math.min(size, total - s)]);
  return out;
}

export class Trainer {
  readonly student: SelfPatchDINO;
  readonly teacher: SelfPatchDINO;
  readonly loss: DINOLoss;
  readonly optimizer: AdamW;
  readonly groups: ParamGroups;
  private readonly opts: Required<Omit<TrainerOptions, 'optimizer' | 'microBatch' | 'teacherMicroBatch' | 'singleGraph'>> & {
    microBatch?: number;
    teacherMicroBatch?: number;
    singleGraph?: boolean;
  };

  constructor(options: TrainerOptions) {
    this.student = options.student;
    this.teacher = options.teacher;
    this.loss = options.loss;
    this.optimizer = options.optimizer ?? new AdamW();
    this.opts = { clipGrad: 3.0, freezeLastLayer: 1, ...options };
    if (options.microBatch !== undefined && !(Number.isInteger(options.microBatch) && options.microBatch > 0)) {
      throw new ConfigError('micro_batch', `must be a positive integer, got ${options.microBatch}`);
    }
    this.groups = paramGroups(this.student.namedParameters());
    this.teacher.eval();
    this.student.train();
  }

  /** Teacher outputs per crop (no gradient recorded). */
  teacherForward(crops: tf.Tensor4D[]): { cls: tf.Tensor3D[]; patch: tf.Tensor3D[] } {
    const cls: tf.Tensor3D[] = new Array(crops.length);
    const patch: tf.Tensor3D[] = new Array(crops.length);
    for (const group of cropGroups(crops)) {
      const b = (crops[group[0] as number] as tf.Tensor4D).shape[0];
      const size = this.opts.teacherMicroBatch ?? b * group.length;
      const parts = chunks(b * group.length, size).map(([start, n]) =>
        tf.tidy(() => {
          const x = tf.slice(tf.concat(group.map((i) => crops[i] as tf.Tensor4D), 0), [start, 0, 0, 0], [n, -1, -1, -1]) as tf.Tensor4D;
          const o = this.teacher.forward(x, true);
          return [o.cls, o.patch];
        }),
      );
      const allCls = tf.concat(parts.map((p) => p[0] as tf.Tensor), 0);
      const allPatch = tf.concat(parts.map((p) => p[1] as tf.Tensor), 0);
      tf.dispose(parts.flat());
      group.forEach((i, j) => {
        cls[i] = tf.slice(allCls, [j * b, 0, 0], [b, -1, -1]) as tf.Tensor3D;
        patch[i] = tf.slice(allPatch, [j * b, 0, 0], [b, -1, -1]) as tf.Tensor3D;
      });
      tf.dispose([allCls, allPatch]);
    }
    return { cls, patch };
  }

  /**
   * Student loss and accumulated gradients over all crops, in micro-batches.
   * Returns summed loss terms and the gradients by parameter name (caller disposes).
   */
  studentBackward(crops: tf.Tensor4D[], targets: DINOTargets): { cls: number; patch: number; grads: Map<string, tf.Tensor | null> } {
    const named = this.student.namedParameters().filter(([, v]) => v.trainable);
    const vars = named.map(([, v]) => v);
    const acc = new Map<string, tf.Tensor | null>(named.map(([n]) => [n, null]));
    let cls = 0;
    let patch = 0;
    // Work units: (crop group, row range); each unit is one taped graph unless singleGraph.
    const units: Array<{ group: number[]; b: number; start: number; n: number }> = [];
    for (const group of cropGroups(crops)) {
      const b = (crops[group[0] as number] as tf.Tensor4D).shape[0];
      const size = this.opts.microBatch ?? b * group.length;
      for (const [start, n] of chunks(b * group.length, size)) units.push({ group, b, start, n });
    }
    const graphs = this.opts.singleGraph ? [units] : units.map((u) => [u]);
    for (const graph of graphs) {
      const termValues: number[] = [];
      const { value, grads } = tf.variableGrads(() => tf.addN(graph.map((u) => this.unitLoss(crops, targets, u, termValues))) as tf.Scalar, vars);
      value.dispose();
      for (let i = 0; i < termValues.length; i += 2) {
        cls += termValues[i] as number;
        patch += termValues[i + 1] as number;
      }
      for (const [name, v] of named) {
        const g = grads[v.name];
        if (!g) continue;
        const prev = acc.get(name);
        if (prev) {
          acc.set(name, tf.keep(tf.add(prev, g)));
          prev.dispose();
          g.dispose();
        } else {
          acc.set(name, g);
        }
      }
    }
    return { cls, patch, grads: acc };
  }

  /** Loss share of rows `[start, start+n)` of a crop group's crop-major batch (inside a tape). */
  private unitLoss(crops: tf.Tensor4D[], targets: DINOTargets, u: { group: number[]; b: number; start: number; n: number }, termValues: number[]): tf.Scalar {
    const { group, b, start, n } = u;
    const x = tf.tidy(() => tf.slice(tf.concat(group.map((i) => crops[i] as tf.Tensor4D), 0), [start, 0, 0, 0], [n, -1, -1, -1]) as tf.Tensor4D);
    const out = this.student.forward(x, false);
    x.dispose();
    const parts: tf.Scalar[] = [];
    let row = start;
    while (row < start + n) {
      const j = Math.floor(row / b);
      const r0 = row - j * b;
      const cnt = Math.min(b - r0, start + n - row);
      const sc = tf.slice(out.cls, [row - start, 0, 0], [cnt, -1, -1]);
      const sp = tf.slice(out.patch, [row - start, 0, 0], [cnt, -1, -1]);
      const terms = this.loss.studentTerms(targets, group[j] as number, sc, sp, r0);
      termValues.push(terms.cls.dataSync()[0] as number, terms.patch.dataSync()[0] as number);
      parts.push(this.loss.total(terms));
      row += cnt;
    }
    return tf.addN(parts) as tf.Scalar;
  }

  /** A snapshot of all training state (host copies; safe to serialise). */
  getState(): TrainerState {
    const raw = (sd: Record<string, tf.Tensor>) => Object.fromEntries(Object.entries(sd).map(([k, t]) => [k, tensorToRaw(t)]));
    return {
      student: raw(this.student.stateDict()),
      teacher: raw(this.teacher.stateDict()),
      optimizer: this.optimizer.stateDict(),
      center: tensorToRaw(this.loss.center),
      patchCenter: tensorToRaw(this.loss.patchCenter),
      dropPathRng: this.student.backbone.dropPathRng.getState(),
    };
  }

  /** Restores a {@link getState} snapshot (strict: the architecture must match). */
  setState(state: TrainerState): void {
    this.student.loadStateDict(state.student, { context: 'trainer state (student)' });
    this.teacher.loadStateDict(state.teacher, { context: 'trainer state (teacher)' });
    this.optimizer.loadStateDict(state.optimizer, rawToTensor);
    const c = rawToTensor(state.center);
    const pc = rawToTensor(state.patchCenter);
    this.loss.setCenters(c, pc);
    tf.dispose([c, pc]);
    this.student.backbone.dropPathRng.setState(state.dropPathRng);
  }

  /**
   * Runs iteration `it` on the crops (per crop `[B, 3, H, W]`, global crops first).
   *
   * @example
   * ```ts
   * const res = trainer.step(crops, it);
   * console.log(res.loss, res.lr);
   * ```
   */
  step(crops: tf.Tensor4D[], it: number, hooks: StepHooks = {}): StepResult {
    // Each layer runs once per micro-batch and crop group while its weights change once per step:
    // the layers keep their transposed weights for the step (docs/tfjs-backends.md §3, per-kernel costs).
    return withWeightCache(() => this.runStep(crops, it, hooks));
  }

  private runStep(crops: tf.Tensor4D[], it: number, hooks: StepHooks): StepResult {
    const { schedules, niterPerEpoch } = this.opts;
    if (it < 0 || it >= schedules.lr.length) throw new ConfigError('iteration', `${it} is outside the schedule (0..${schedules.lr.length - 1})`);
    const epoch = Math.floor(it / niterPerEpoch);
    const lr = schedules.lr[it] as number;
    const wd = schedules.wd[it] as number;
    const momentum = schedules.momentum[it] as number;
    // Plain DINO: the teacher sees the global crops only, so its center too (official DINO).
    const teacherOut = this.teacherForward(this.student.plainDino ? crops.slice(0, this.loss.options.nGlobalCrops) : crops);
    const targets = this.loss.targets(teacherOut.cls, teacherOut.patch, epoch);
    let grads: Map<string, tf.Tensor | null> | null = null;
    try {
      const res = this.studentBackward(crops, targets);
      grads = res.grads;
      const total = res.cls + this.loss.options.patchWeight * res.patch;
      if (!Number.isFinite(total)) throw new NonFiniteLossError(it, total);
      hooks.onGradients?.(grads);
      const gradNorms = clipGradients(grads, this.opts.clipGrad);
      cancelLastLayerGradients(grads, epoch, this.opts.freezeLastLayer);
      this.optimizer.step(
        [
          { params: this.groups.regularized, lr, weightDecay: wd },
          { params: this.groups.notRegularized, lr, weightDecay: 0 },
        ],
        grads,
      );
      emaUpdate(this.teacher, this.student, momentum);
      this.loss.updateCenter(teacherOut.cls, teacherOut.patch);
      return { iteration: it, epoch, loss: total, clsLoss: res.cls, patchLoss: res.patch, lr, weightDecay: wd, momentum, teacherTemp: targets.teacherTemp, gradNorms };
    } finally {
      this.loss.disposeTargets(targets);
      tf.dispose([...teacherOut.cls, ...teacherOut.patch]);
      if (grads) tf.dispose([...grads.values()].filter((g): g is tf.Tensor => g !== null));
    }
  }
}
