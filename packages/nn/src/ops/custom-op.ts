/** Typed wrapper around `tf.customGrad` for ops with a fixed number of tensor inputs. */
import * as tf from '@tensorflow/tfjs-core';

export type GradFn = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
export type OpBody = (inputs: tf.Tensor[], save: tf.GradSaveFunc) => { value: tf.Tensor; gradFunc: GradFn };

/** Builds a differentiable op of `arity` tensor inputs from a forward body with its gradient. */
export function defineOp(arity: number, body: OpBody): (...inputs: tf.Tensor[]) => tf.Tensor {
  const g = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) =>
    body(args.slice(0, arity) as tf.Tensor[], args[arity] as tf.GradSaveFunc)) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (...inputs: tf.Tensor[]) => {
    if (inputs.length !== arity) throw new Error(`op expects ${arity} inputs, got ${inputs.length}`);
    return g(...inputs);
  };
}
