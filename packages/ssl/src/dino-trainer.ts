/**
 * The DINO / DINO + SelfPatch training step (docs/selfpatch.md §5 "One iteration"; docs/architecture.md §3).
 * Read with optimizer-step.ts, which holds the update half shared with MoBY:
 *
 *   teacher(all crops, loc=true)  [no tape; blocks tidied]  → targets with the current centers
 *   student(all crops, loc=false) in micro-batches, each `variableGrads` of its share of the loss
 *   (DINOLoss.studentTerms does all the loss scaling), gradients accumulated (exactly the
 *   single-graph gradient: the loss is a sum of per-crop, per-image terms once the targets are fixed)
 *   → OptimizerStep: abort on a non-finite loss → clip per parameter → cancel last-layer grads
 *   (epoch < freeze_last_layer) → AdamW (lr, wd from the schedules)
 *   → EMA teacher → update centers.
 *
 * Memory: only one micro-batch's graph is taped at a time, which keeps a ViT-Ti multi-crop step
 * inside wasm's 4 GB heap (docs/tfjs-backends.md §7).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, rawStateDict, rawToTensor, tensorToRaw, withWeightCache, type RawTensor, type RngState } from '@selfpatch/nn';
import type { AdamW } from './adamw.js';
import { DINOLoss, type DINOTargets } from './dino-loss.js';
import { emaUpdate } from './ema.js';
import { OptimizerStep, scheduleAt, type OptimizerState, type Schedules } from './optimizer-step.js';
import type { ParamGroups } from './param-groups.js';
import type { SelfPatchDINO } from './selfpatch-dino.js';
import type { TrainStepResult } from './train-step-result.js';

export interface DINOTrainerOptions {
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

/** {@link TrainStepResult} with DINO's two terms by name (`terms` holds `cls` and, with SelfPatch, `patch`). */
export interface DINOStepResult extends TrainStepResult {
  clsLoss: number;
  patchLoss: number;
  teacherTemp: number;
}

/**
 * Everything needed to continue training exactly (the loop adds its own position and data order):
 * weights by PyTorch key, AdamW moments and step counts, both centers, the drop-path RNG.
 */
export interface DINOTrainerState {
  student: Record<string, RawTensor>;
  teacher: Record<string, RawTensor>;
  optimizer: OptimizerState;
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

/**
 * DINO, or DINO + SelfPatch when the wrappers have a patch head: one {@link DINOTrainer.step} per
 * iteration, state for exact resumption through {@link DINOTrainer.getState}.
 *
 * @example
 * ```ts
 * const cfg = { backbone: vitConfig('vit_tiny'), outDim: 1024, patchOutDim: 256 };
 * const student = new SelfPatchDINO(cfg, new Rng(0));
 * const teacher = new SelfPatchDINO(cfg, new Rng(0));
 * teacher.loadStateDict(student.stateDict());
 * const loss = new DINOLoss({ outDim: 1024, patchOutDim: 256, ncrops: 2, nepochs: 1 });
 * const schedules = { lr: cosineSchedule(5e-4, 1e-6, 1, 10), wd: cosineSchedule(0.04, 0.4, 1, 10), momentum: cosineSchedule(0.996, 1, 1, 10) };
 * const trainer = new DINOTrainer({ student, teacher, loss, schedules, niterPerEpoch: 10 });
 * const crops = [tf.randomNormal([2, 3, 224, 224]), tf.randomNormal([2, 3, 224, 224])] as tf.Tensor4D[];
 * console.log(trainer.step(crops, 0).terms); // { cls: …, patch: … }
 * ```
 */
export class DINOTrainer {
  readonly student: SelfPatchDINO;
  readonly teacher: SelfPatchDINO;
  readonly loss: DINOLoss;
  readonly update: OptimizerStep;
  private readonly opts: Required<Omit<DINOTrainerOptions, 'optimizer' | 'microBatch' | 'teacherMicroBatch' | 'singleGraph'>> & {
    microBatch?: number;
    teacherMicroBatch?: number;
    singleGraph?: boolean;
  };

  constructor(options: DINOTrainerOptions) {
    this.student = options.student;
    this.teacher = options.teacher;
    this.loss = options.loss;
    this.opts = { clipGrad: 3.0, freezeLastLayer: 1, ...options };
    for (const key of ['microBatch', 'teacherMicroBatch'] as const) {
      const v = options[key];
      if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new ConfigError(key === 'microBatch' ? 'micro_batch' : 'teacher_micro_batch', `must be a positive integer, got ${v}`);
    }
    this.update = new OptimizerStep({
      parameters: this.student.namedParameters(),
      clipRule: 'per-parameter',
      clipGrad: this.opts.clipGrad,
      freezeLastLayer: this.opts.freezeLastLayer,
      ...(options.optimizer ? { optimizer: options.optimizer } : {}),
    });
    this.teacher.eval();
    this.student.train();
  }

  get optimizer(): AdamW {
    return this.update.optimizer;
  }

  get groups(): ParamGroups {
    return this.update.groups;
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
  getState(): DINOTrainerState {
    return {
      student: rawStateDict(this.student.stateDict()),
      teacher: rawStateDict(this.teacher.stateDict()),
      optimizer: this.optimizer.stateDict(),
      center: tensorToRaw(this.loss.center),
      patchCenter: tensorToRaw(this.loss.patchCenter),
      dropPathRng: this.student.backbone.dropPathRng.getState(),
    };
  }

  /** Restores a {@link getState} snapshot (strict: the architecture must match). */
  setState(state: DINOTrainerState): void {
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
  step(crops: tf.Tensor4D[], it: number, hooks: StepHooks = {}): DINOStepResult {
    // Each layer runs once per micro-batch and crop group while its weights change once per step:
    // the layers keep their transposed weights for the step (docs/tfjs-backends.md §3, per-kernel costs).
    return withWeightCache(() => this.runStep(crops, it, hooks));
  }

  private runStep(crops: tf.Tensor4D[], it: number, hooks: StepHooks): DINOStepResult {
    const at = scheduleAt(this.opts.schedules, it, this.opts.niterPerEpoch);
    // Plain DINO: the teacher sees the global crops only, so its center too (official DINO).
    const teacherOut = this.teacherForward(this.student.plainDino ? crops.slice(0, this.loss.options.nGlobalCrops) : crops);
    const targets = this.loss.targets(teacherOut.cls, teacherOut.patch, at.epoch);
    let grads: Map<string, tf.Tensor | null> | null = null;
    try {
      const res = this.studentBackward(crops, targets);
      grads = res.grads;
      const total = res.cls + this.loss.options.patchWeight * res.patch;
      const { gradNorms } = this.update.apply(total, grads, at, hooks.onGradients);
      emaUpdate(this.teacher, this.student, at.momentum);
      this.loss.updateCenter(teacherOut.cls, teacherOut.patch);
      const terms: Record<string, number> = { cls: res.cls };
      if (!this.student.plainDino) terms.patch = res.patch;
      return { ...at, loss: total, terms, clsLoss: res.cls, patchLoss: res.patch, teacherTemp: targets.teacherTemp, gradNorms };
    } finally {
      this.loss.disposeTargets(targets);
      tf.dispose([...teacherOut.cls, ...teacherOut.patch]);
      if (grads) tf.dispose([...grads.values()].filter((g): g is tf.Tensor => g !== null));
    }
  }

  /** Frees the optimizer state (the modules and the loss belong to the caller). */
  dispose(): void {
    this.update.dispose();
  }
}
