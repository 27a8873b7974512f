/**
 * Gathers each patch's selected positives, `Y[b, n] = X[b, ids[b, n]]` → `[B·N, k, C]`
 * (docs/selfpatch.md §2 step 4: the un-normalised tokens, batch-major rows).
 *
 * Forward: one `gather`. Backward: written with grid shifts and constant masks instead of gather's
 * gradient (UnsortedSegmentSum, missing on wasm and slow where present; docs/tfjs-backends.md §2):
 * `dX = Σ_offsets shift⁻¹(Σ_slots [offset(slot) = o] · dY_slot)`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { PositiveMatches } from './positive-matching.js';
import { shiftGrid } from './shift.js';

export function gatherPositives(tokens: tf.Tensor3D, m: PositiveMatches): tf.Tensor3D {
  const [b, n, c] = tokens.shape;
  const k = m.k;
  const flatIds = new Int32Array(b * n * k);
  for (let i = 0; i < flatIds.length; i++) flatIds[i] = Math.floor(i / (n * k)) * n + (m.ids[i] as number);
  const op = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    save([]);
    const value = tf.tidy(() => {
      const idx = tf.tensor1d(flatIds, 'int32');
      return tf.reshape(tf.gather(tf.reshape(x, [b * n, c]), idx), [b * n, k, c]);
    });
    const gradFunc = (dy: tf.Tensor) =>
      tf.tidy(() => {
        const dy4 = tf.reshape(dy, [b, n, k, c]);
        let dx: tf.Tensor4D | null = null;
        m.nb.offsets.forEach(([dr, dc], o) => {
          const mask = new Float32Array(b * n * k);
          let any = false;
          for (let i = 0; i < mask.length; i++) {
            if (m.offsetIndex[i] === o) {
              mask[i] = 1;
              any = true;
            }
          }
          if (!any) return;
          const d = tf.sum(tf.mul(dy4, tf.tensor4d(mask, [b, n, k, 1])), 2); // [B, N, C]
          const back = shiftGrid(tf.reshape(d, [b, m.nb.h, m.nb.w, c]) as tf.Tensor4D, -dr, -dc, m.nb.border);
          dx = dx === null ? back : (tf.add(dx, back) as tf.Tensor4D);
        });
        return tf.reshape(dx ?? tf.zeros([b, n, c]), [b, n, c]);
      });
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(tokens) as tf.Tensor3D;
}
