/**
 * DINO loss with SelfPatch's patch term (docs/selfpatch.md §4):
 *
 *   q_i = softmax((t_cls_i − c)/τ_t),  Q_v = softmax((t_patch_v − c_p)/τ_t)      (no gradient)
 *   L_cls   = mean over pairs (i global, v ≠ i) of mean_b CE(q_i, s_cls_v/τ_s)
 *   L_patch = mean_v mean_{b,n} CE(Q_v, s_patch_v/τ_s)
 *   L = L_cls + λ·L_patch  (λ = 0.1)
 *
 * Centers are updated after the loss from *all* teacher crops (local ones included, unlike DINO).
 *
 * With the targets fixed, L is a sum of terms that each involve one student crop and one image,
 * so the student can run in micro-batches with gradient accumulation and get exactly the same
 * gradient: {@link DINOLoss.studentTerms} returns the share of L from any crop and row range.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@selfpatch/nn';
import { patchCrossEntropy, patchTargets, updatePatchCenter } from '@selfpatch/selfpatch';
import { teacherTempSchedule } from './schedules.js';

export interface DINOLossOptions {
  outDim: number;
  /** p_head output dim; 0 disables the patch term (plain DINO). */
  patchOutDim: number;
  /** Crops per image (2 global + local). */
  ncrops: number;
  nGlobalCrops?: number;
  warmupTeacherTemp?: number;
  teacherTemp?: number;
  warmupTeacherTempEpochs?: number;
  nepochs: number;
  studentTemp?: number;
  centerMomentum?: number;
  /** λ, hard-coded 0.1 in the reference. */
  patchWeight?: number;
}

/** Teacher-derived targets for one step (constants). Dispose with {@link DINOLoss.disposeTargets}. */
export interface DINOTargets {
  /** Per global crop `[B, K]`. */
  cls: tf.Tensor2D[];
  /** Per crop `[B, N_v, Kp]` (empty without a patch term). */
  patch: tf.Tensor3D[];
  batch: number;
  teacherTemp: number;
}

export interface LossTerms {
  cls: tf.Scalar;
  patch: tf.Scalar;
}

function as2d(t: tf.Tensor): tf.Tensor2D {
  return tf.reshape(t, [t.shape[0] as number, -1]) as tf.Tensor2D;
}

/**
 * @example
 * ```ts
 * const loss = new DINOLoss({ outDim: 65536, patchOutDim: 4096, ncrops: 10, nepochs: 300 });
 * const { loss: l } = loss.forward(studentCls, studentPatch, teacherCls, teacherPatch, epoch);
 * loss.updateCenter(teacherCls, teacherPatch);
 * ```
 */
export class DINOLoss {
  readonly options: Required<DINOLossOptions>;
  center: tf.Tensor;
  patchCenter: tf.Tensor;
  private readonly tempSchedule: Float64Array;

  constructor(options: DINOLossOptions) {
    this.options = {
      nGlobalCrops: 2,
      warmupTeacherTemp: 0.04,
      teacherTemp: 0.04,
      warmupTeacherTempEpochs: 0,
      studentTemp: 0.1,
      centerMomentum: 0.9,
      patchWeight: 0.1,
      ...options,
    };
    const o = this.options;
    if (o.ncrops < 2 || o.nGlobalCrops < 1 || o.nGlobalCrops > o.ncrops) {
      throw new ConfigError('ncrops', `need at least 2 crops with 1..ncrops global ones (ncrops ${o.ncrops}, global ${o.nGlobalCrops})`);
    }
    this.tempSchedule = teacherTempSchedule(o.warmupTeacherTemp, o.teacherTemp, o.warmupTeacherTempEpochs, o.nepochs);
    this.center = tf.keep(tf.zeros([1, 1, o.outDim]));
    this.patchCenter = tf.keep(tf.zeros([1, Math.max(o.patchOutDim, 1)]));
  }

  /** τ_t for an epoch (the last value past the schedule). */
  teacherTemp(epoch: number): number {
    return this.tempSchedule[Math.min(epoch, this.tempSchedule.length - 1)] as number;
  }

  get numPairs(): number {
    return this.options.nGlobalCrops * (this.options.ncrops - 1);
  }

  /** Softmax targets from the teacher outputs (per crop) with the current centers. */
  targets(teacherCls: tf.Tensor[], teacherPatch: tf.Tensor[], epoch: number): DINOTargets {
    const o = this.options;
    // Plain DINO runs the teacher on the global crops only (as the official DINO); SelfPatch on all.
    const expected = o.patchOutDim > 0 ? o.ncrops : o.nGlobalCrops;
    if (teacherCls.length !== expected && teacherCls.length !== o.ncrops) throw new ShapeError(`expected ${expected} teacher crops, got ${teacherCls.length}`);
    const tauT = this.teacherTemp(epoch);
    const cls = teacherCls
      .slice(0, o.nGlobalCrops)
      .map((t) => tf.keep(tf.tidy(() => tf.softmax(tf.div(tf.sub(as2d(t), as2d(this.center)), tauT)) as tf.Tensor2D)));
    const patch = o.patchOutDim > 0 ? teacherPatch.map((t) => tf.keep(patchTargets(t as tf.Tensor3D, this.patchCenter, tauT))) : [];
    return { cls, patch, batch: teacherCls[0]?.shape[0] as number, teacherTemp: tauT };
  }

  disposeTargets(t: DINOTargets): void {
    tf.dispose([...t.cls, ...t.patch]);
  }

  /**
   * The share of `L_cls` and `L_patch` contributed by student crop `v`, rows `[rowStart,
   * rowStart + rows)` of the batch (the student tensors hold just those rows).
   */
  studentTerms(targets: DINOTargets, v: number, studentCls: tf.Tensor, studentPatch: tf.Tensor | null, rowStart = 0): LossTerms {
    const o = this.options;
    return tf.tidy(() => {
      const rows = studentCls.shape[0] as number;
      const b = targets.batch;
      const logp = tf.logSoftmax(tf.div(as2d(studentCls), o.studentTemp));
      const pairs: tf.Tensor[] = [];
      targets.cls.forEach((q, i) => {
        if (i === v) return;
        const qRows = rows === b ? q : tf.slice(q, [rowStart, 0], [rows, -1]);
        pairs.push(tf.sum(tf.neg(tf.sum(tf.mul(qRows, logp), 1))));
      });
      const cls = pairs.length ? tf.div(tf.addN(pairs), b * this.numPairs) : tf.scalar(0);
      let patch: tf.Tensor = tf.scalar(0);
      if (o.patchOutDim > 0 && studentPatch) {
        const full = targets.patch[v] as tf.Tensor3D;
        const q = rows === b ? full : (tf.slice(full, [rowStart, 0, 0], [rows, -1, -1]) as tf.Tensor3D);
        // patchCrossEntropy is a mean over this slice's rows·patches; rescale to the full crop.
        patch = tf.div(tf.mul(patchCrossEntropy(studentPatch as tf.Tensor3D, q, o.studentTemp), rows / b), o.ncrops);
      }
      return { cls: cls as tf.Scalar, patch: patch as tf.Scalar };
    });
  }

  /** Combines terms into `L = L_cls + λ·L_patch`. */
  total(terms: LossTerms): tf.Scalar {
    return tf.add(terms.cls, tf.mul(terms.patch, this.options.patchWeight)) as tf.Scalar;
  }

  /** Single-graph loss over all crops (student lists per crop, `[B,1,K]`/`[B,K]` and `[B,N,Kp]`). */
  forward(
    studentCls: tf.Tensor[],
    studentPatch: tf.Tensor[],
    teacherCls: tf.Tensor[],
    teacherPatch: tf.Tensor[],
    epoch: number,
  ): { loss: tf.Scalar; cls: tf.Scalar; patch: tf.Scalar } {
    const targets = this.targets(teacherCls, teacherPatch, epoch);
    try {
      return tf.tidy(() => {
        const terms = studentCls.map((s, v) => this.studentTerms(targets, v, s, studentPatch[v] ?? null));
        const cls = tf.addN(terms.map((t) => t.cls)) as tf.Scalar;
        const patch = tf.addN(terms.map((t) => t.patch)) as tf.Scalar;
        return { loss: this.total({ cls, patch }), cls, patch };
      });
    } finally {
      this.disposeTargets(targets);
    }
  }

  /**
   * `c ← m·c + (1−m)·mean(all teacher CLS outputs)`, `c_p ← m·c_p + (1−m)·mean(all teacher patch
   * outputs)` (patch-count weighted), from every crop.
   */
  updateCenter(teacherCls: tf.Tensor[], teacherPatch: tf.Tensor[]): void {
    const m = this.options.centerMomentum;
    const k = this.options.outDim;
    const next = tf.tidy(() => {
      const all = tf.concat(teacherCls.map((t) => tf.reshape(t, [-1, k])), 0);
      return tf.add(tf.mul(this.center, m), tf.mul(tf.reshape(tf.mean(all, 0), [1, 1, k]), 1 - m));
    });
    this.center.dispose();
    this.center = tf.keep(next);
    if (this.options.patchOutDim > 0 && teacherPatch.length > 0) {
      const pc = tf.keep(updatePatchCenter(this.patchCenter, teacherPatch, m));
      this.patchCenter.dispose();
      this.patchCenter = pc;
    }
  }

  /** Replaces the centers (checkpoint restore). */
  setCenters(center: tf.Tensor, patchCenter: tf.Tensor): void {
    this.center.dispose();
    this.patchCenter.dispose();
    this.center = tf.keep(tf.reshape(center, [1, 1, this.options.outDim]));
    this.patchCenter = tf.keep(tf.reshape(patchCenter, [1, Math.max(this.options.patchOutDim, 1)]));
  }

  dispose(): void {
    this.center.dispose();
    this.patchCenter.dispose();
  }
}
