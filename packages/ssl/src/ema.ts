/**
 * The momentum (EMA) update of a target network, shared by DINO/SelfPatch's teacher and MoBY's
 * target branch: for every parameter pair in registration order, frozen ones included,
 * `θ_t ← m·θ_t + (1−m)·θ_s` (DINO `main_dino.py` "EMA update for the teacher",
 * https://github.com/facebookresearch/dino/blob/7c446df5b9f45747937fb0d72314eb9f7b66930a/main_dino.py;
 * MoBY `_momentum_update_key_encoder`). Buffers (BatchNorm statistics) are not parameters and are
 * left alone, as in both.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fusedEma, ShapeError, type Module } from '@selfpatch/nn';

export function emaUpdate(teacher: Module, student: Module, momentum: number, what = 'EMA'): void {
  const t = teacher.namedParameters();
  const s = new Map(student.namedParameters());
  for (const [name] of t) if (!s.has(name)) throw new ShapeError(`${what}: the online/student network has no parameter '${name}'`);
  tf.tidy(() => {
    for (const [name, vt] of t) {
      const vs = s.get(name) as tf.Variable;
      // One fused pass on wasm (same float32 values as the composite).
      vt.assign(fusedEma(vt, vs, momentum) ?? tf.add(tf.mul(vt, momentum), tf.mul(vs, 1 - momentum)));
    }
  });
}
