/** Typed wrapper around `tf.customGrad` for ops with a fixed number of tensor inputs. */
import * as tf from '@tensorflow/tfjs-core';

export type GradFn = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
export type OpBody = (inputs: tf.Tensor[], save: tf.GradSaveFunc) => { value: tf.Tensor; gradFunc: GradFn };

/** Builds a differentiable op of `arity` tensor inputs from a forward body with its gradient. */
export function defineOp(arity: number, body: OpBody): (...inputs: tf.Tensor[]) => tf.Tensor {
  // The forward runs in its own tidy: tfjs otherwise keeps a custom op's forward intermediates
  // (a transposed weight, GELU's erf temporaries, ...) alive until the enclosing scope ends, which
  // for a taped training graph means until the whole backward pass is done. What a body passes to
  // `save` survives it: tfjs keeps a clone (sharing the buffer on wasm) until backprop has run,
  // and saves nothing when no tape records (ops/attention.ts saves its softmax outputs this way).
  const g = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    let grad: GradFn | null = null;
    const value = tf.tidy(() => {
      const out = body(args.slice(0, arity) as tf.Tensor[], args[arity] as tf.GradSaveFunc);
      grad = out.gradFunc;
      return out.value;
    });
    return { value, gradFunc: grad as unknown as GradFn };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (...inputs: tf.Tensor[]) => {
    if (inputs.length !== arity) throw new Error(`op expects ${arity} inputs, got ${inputs.length}`);
    return g(...inputs);
  };
}

/**
 * `defineOp` for a family of ops with one numeric parameter (an eps, a scale): the op for each value
 * is built once, since `defineOp` wraps a `tf.customGrad`.
 *
 * @example
 * ```ts
 * const scaleBy = defineOpFamily(1, (k) => ([x]) => ({ value: tf.mul(x as tf.Tensor, k), gradFunc: (dy) => [tf.mul(dy, k)] }));
 * const y = scaleBy(2)(tf.ones([3])); // [2, 2, 2]
 * ```
 */
export function defineOpFamily(arity: number, body: (param: number) => OpBody): (param: number) => (...inputs: tf.Tensor[]) => tf.Tensor {
  const ops = new Map<number, (...inputs: tf.Tensor[]) => tf.Tensor>();
  return (param) => {
    let op = ops.get(param);
    if (!op) {
      op = defineOp(arity, body(param));
      ops.set(param, op);
    }
    return op;
  };
}

/** Whether a gradient tape is recording (inside `tf.grad`/`variableGrads`). */
export function tapeRecording(): boolean {
  return (tf.engine().state as unknown as { gradientDepth: number }).gradientDepth > 0;
}
