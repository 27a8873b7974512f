/**
 * The patch-level loss (docs/selfpatch.md §4 "Patch term"; paper Eq. 3): each crop's student patch
 * outputs against the teacher's aggregated-positive outputs of the *same* view,
 *
 *   L_patch = mean_i mean_{b,n} CE(softmax((t_i − c_p)/τ_t), s_i/τ_s)
 *
 * with `CE(q, s) = −Σ q · log_softmax(s)`. Every crop weighs the same whatever its patch count (a
 * 36-patch local crop counts as much as a 196-patch global crop). The teacher side carries no
 * gradient. Composes with any image-level objective: the caller adds `λ·L_patch` (0.1 officially).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError, stopGradient } from '@selfpatch/nn';

export interface PatchLossOptions {
  /** τ_s (0.1). */
  studentTemp?: number;
  /** τ_t for this epoch (0.04). */
  teacherTemp: number;
}

/**
 * @param student per crop `[B, N_i, K]` (differentiable)
 * @param teacher per crop `[B, N_i, K]` (treated as constants)
 * @param center `[1, K]` patch center before this step
 *
 * @example
 * ```ts
 * const loss = patchLoss([sG1, sG2, sL1], [tG1, tG2, tL1], patchCenter, { teacherTemp: 0.04 });
 * ```
 */
/** Per-patch targets `softmax((t − c_p)/τ_t)` (constants), `[B, N, K]`. */
export function patchTargets(teacher: tf.Tensor3D, center: tf.Tensor, teacherTemp: number): tf.Tensor3D {
  return tf.tidy(() => stopGradient(tf.softmax(tf.div(tf.sub(teacher, center), teacherTemp))) as tf.Tensor3D);
}

/** `mean_{b,n} CE(q, s/τ_s)` for one crop: `−Σ_j q_j log_softmax(s/τ_s)_j` averaged over patches. */
export function patchCrossEntropy(student: tf.Tensor3D, targets: tf.Tensor3D, studentTemp: number): tf.Scalar {
  if (student.shape.join() !== targets.shape.join()) {
    throw new ShapeError(`patch cross-entropy: student [${student.shape}] vs targets [${targets.shape}]`);
  }
  return tf.tidy(() => tf.mean(tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(tf.div(student, studentTemp))), -1))) as tf.Scalar);
}

export function patchLoss(student: tf.Tensor[], teacher: tf.Tensor[], center: tf.Tensor, options: PatchLossOptions): tf.Scalar {
  const tauS = options.studentTemp ?? 0.1;
  const tauT = options.teacherTemp;
  if (!(tauS > 0) || !(tauT > 0)) throw new ConfigError('temperature', `temperatures must be positive (student ${tauS}, teacher ${tauT})`);
  if (student.length !== teacher.length || student.length === 0) {
    throw new ShapeError(`patchLoss: ${student.length} student crops vs ${teacher.length} teacher crops`);
  }
  return tf.tidy(() => {
    const terms = student.map((s, i) => {
      const t = teacher[i] as tf.Tensor3D;
      if (s.shape.join() !== t.shape.join()) throw new ShapeError(`patchLoss crop ${i}: student [${s.shape}] vs teacher [${t.shape}]`);
      return patchCrossEntropy(s as tf.Tensor3D, patchTargets(t, center, tauT), tauS);
    });
    return tf.div(tf.addN(terms), terms.length) as tf.Scalar;
  });
}

/**
 * New patch center: `m·c + (1−m)·(Σ of every teacher patch output of every crop) / (Σ_i B·N_i)`
 * (a patch-count-weighted mean over all crops, as the reference computes it).
 */
export function updatePatchCenter(center: tf.Tensor, teacher: tf.Tensor[], momentum = 0.9): tf.Tensor {
  return tf.tidy(() => {
    const k = center.shape[center.rank - 1] as number;
    let count = 0;
    const sums = teacher.map((t) => {
      count += t.size / k;
      return tf.sum(tf.reshape(t, [-1, k]), 0);
    });
    const mean = tf.div(tf.addN(sums), count);
    return tf.add(tf.mul(center, momentum), tf.mul(tf.reshape(mean, center.shape), 1 - momentum));
  });
}
