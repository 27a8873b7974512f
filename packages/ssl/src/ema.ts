/**
 * EMA teacher update (SELFPATCH_SPEC §5 step 7): for every parameter pair in registration order,
 * frozen ones included, `θ_t ← m·θ_t + (1−m)·θ_s`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fusedEma, ShapeError, type Module } from '@selfpatch/nn';

export function emaUpdate(teacher: Module, student: Module, momentum: number): void {
  const t = teacher.namedParameters();
  const s = new Map(student.namedParameters());
  tf.tidy(() => {
    for (const [name, vt] of t) {
      const vs = s.get(name);
      if (!vs) throw new ShapeError(`EMA: student has no parameter '${name}'`);
      // One fused pass on wasm (same float32 values as the composite).
      vt.assign(fusedEma(vt, vs, momentum) ?? tf.add(tf.mul(vt, momentum), tf.mul(vs, 1 - momentum)));
    }
  });
}
