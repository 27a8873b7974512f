/**
 * Matrix products whose forward and backward passes stay on each backend's fast path. On wasm
 * (docs/tfjs-backends.md §3, §8.1) that is XNNPACK's: 2-D operands, no transpose flags, so the
 * gradients use explicit transposes. Everywhere else (TensorFlow's oneDNN/cuBLAS, WebGPU, cpu) the
 * flags are free and an explicit transpose is one more pass over the tensor (on the native
 * backend, a ViT-Ti training step spent 0.66 s of 6.3 s in such transposes).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors.js';
import { defineOp, type OpBody } from './custom-op.js';

function check2d(name: string, t: tf.Tensor): void {
  if (t.rank !== 2) throw new ShapeError(`${name}: expected a 2-D tensor, got shape [${t.shape.join(',')}]`);
}

/**
 * Whether matMul's transpose flags cost nothing on the active backend (all but wasm, where a
 * flagged product leaves XNNPACK's fast path).
 *
 * @example
 * ```ts
 * const y = transposeFlagsFree() ? tf.matMul(x, w, false, true) : tf.matMul(x, tf.transpose(w));
 * ```
 */
export function transposeFlagsFree(): boolean {
  return tf.getBackend() !== 'wasm';
}

/** `a @ b`, its gradients with transpose flags (`flags`) or explicit transposes. */
function mmBody(flags: boolean): OpBody {
  return ([a, b], save) => {
    save([a as tf.Tensor, b as tf.Tensor]);
    return {
      value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sa, sb] = saved as [tf.Tensor2D, tf.Tensor2D];
        const d = dy as tf.Tensor2D;
        return flags ? [tf.matMul(d, sb, false, true), tf.matMul(sa, d, true, false)] : [tf.matMul(d, tf.transpose(sb)), tf.matMul(tf.transpose(sa), d)];
      },
    };
  };
}

const mm = defineOp(2, mmBody(false));
const mmFlags = defineOp(2, mmBody(true));

/**
 * `a @ b` for 2-D tensors; on wasm its backward pass is free of transpose flags, elsewhere it
 * uses them instead of explicit transposes.
 *
 * @example
 * ```ts
 * const y = matmul2d(tf.ones([4, 3]), tf.ones([3, 2])); // [4, 2]
 * ```
 */
export function matmul2d(a: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  check2d('matmul2d(a)', a);
  check2d('matmul2d(b)', b);
  if (a.shape[1] !== b.shape[0]) {
    throw new ShapeError(`matmul2d: inner dims differ, [${a.shape.join(',')}] @ [${b.shape.join(',')}]`);
  }
  return (transposeFlagsFree() ? mmFlags : mm)(a, b) as tf.Tensor2D;
}

/**
 * Body of `x Wᵀ (+ b)` over inputs `[x, w(, b)]`. `wt`, when given, is a cached `Wᵀ` (a module
 * keeps it while `W` is unchanged): no transpose in the forward pass, and XNNPACK reuses its
 * packed copy of that same tensor (its operator cache is keyed by the weight tensor) across
 * micro-batches. The backward pass needs one transpose (of `dy`) and no transpose flags.
 */
function linearBody(withBias: boolean, wt: tf.Tensor2D | null): OpBody {
  return ([x, w, b], save) => {
    save([x as tf.Tensor, w as tf.Tensor]);
    const rhs = wt ?? tf.transpose(w as tf.Tensor2D);
    return {
      value: withBias ? tf.fused.matMul({ a: x as tf.Tensor2D, b: rhs, bias: b as tf.Tensor }) : tf.matMul(x as tf.Tensor2D, rhs),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
        const grads = [tf.matMul(dy as tf.Tensor2D, sw), tf.matMul(tf.transpose(dy as tf.Tensor2D), sx)];
        return withBias ? [...grads, tf.sum(dy, 0)] : grads;
      },
    };
  };
}

/** `x Wᵀ (+ b)` with transpose flags, for backends where they are free. */
function linearFlagsBody(withBias: boolean): OpBody {
  return ([x, w, b], save) => {
    save([x as tf.Tensor, w as tf.Tensor]);
    const xw = tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D, false, true);
    return {
      value: withBias ? tf.add(xw, b as tf.Tensor) : xw,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
        const grads = [tf.matMul(dy as tf.Tensor2D, sw), tf.matMul(dy as tf.Tensor2D, sx, true, false)];
        return withBias ? [...grads, tf.sum(dy, 0)] : grads;
      },
    };
  };
}

const linearBias = defineOp(3, linearBody(true, null));
const linearNoBias = defineOp(2, linearBody(false, null));
const linearBiasFlags = defineOp(3, linearFlagsBody(true));
const linearNoBiasFlags = defineOp(2, linearFlagsBody(false));

/**
 * PyTorch `F.linear`: `y = x Wᵀ + b` with `W` stored `[out, in]`, for `x` of any rank `[..., in]`.
 * On wasm, one explicit transpose in the forward pass (none when the caller passes a cached
 * `weightT`, which must equal `Wᵀ`) and one more (of `dy`) backward, with no transpose flags;
 * elsewhere transpose flags and no transposes (`weightT` is ignored).
 *
 * @example
 * ```ts
 * const y = linear(tf.ones([2, 5, 8]), tf.ones([16, 8]), tf.zeros([16])); // [2, 5, 16]
 * ```
 */
export function linear(x: tf.Tensor, weight: tf.Tensor, bias?: tf.Tensor | null, weightT?: tf.Tensor2D): tf.Tensor {
  return overRows('linear', x, weight, (x2) => {
    if (transposeFlagsFree()) return bias ? linearBiasFlags(x2, weight, bias) : linearNoBiasFlags(x2, weight);
    if (weightT) return bias ? defineOp(3, linearBody(true, weightT))(x2, weight, bias) : defineOp(2, linearBody(false, weightT))(x2, weight);
    return bias ? linearBias(x2, weight, bias) : linearNoBias(x2, weight);
  });
}

/**
 * `f` applied to `x [..., in]` as rows `[·, in]`, its `[·, out]` result given `x`'s leading dims
 * back; `weight` must be `[out, in]` (a ShapeError naming `name` otherwise). Shared by the `x Wᵀ`
 * ops ({@link linear}, `inferenceLinear`).
 */
export function overRows(name: string, x: tf.Tensor, weight: tf.Tensor, f: (rows: tf.Tensor) => tf.Tensor): tf.Tensor {
  const inF = weight.shape[1] as number;
  const outF = weight.shape[0] as number;
  if (weight.rank !== 2) throw new ShapeError(`${name}: weight must be [out, in], got [${weight.shape.join(',')}]`);
  if (x.shape[x.rank - 1] !== inF) {
    throw new ShapeError(`${name}: input last dim ${x.shape[x.rank - 1]} != weight in-features ${inF}`);
  }
  const y = f(x.rank === 2 ? x : tf.reshape(x, [-1, inF]));
  return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), outF]);
}
