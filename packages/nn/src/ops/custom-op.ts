/** Typed wrapper around `tf.customGrad` for ops with a fixed number of tensor inputs. */
import * as tf from '@tensorflow/tfjs-core';

export type GradFn = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
export type OpBody = (inputs: tf.Tensor[], save: tf.GradSaveFunc) => { value: tf.Tensor; gradFunc: GradFn };

/** Builds a differentiable op of `arity` tensor inputs from a forward body with its gradient. */
export function defineOp(arity: number, body: OpBody): (...inputs: tf.Tensor[]) => tf.Tensor {
  // The forward runs in its own tidy: tfjs otherwise keeps a custom op's forward intermediates
  // (a transposed weight, GELU's erf temporaries, ...) alive until the enclosing scope ends, which
  // for a taped training graph means until the whole backward pass is done. Bodies may only
  // save their inputs (kept by tfjs), never intermediates.
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
