/**
 * Fused kernels for the native `tensorflow` backend on CPU (tfjs-node): GELU, LayerNorm, AdamW,
 * the teacher EMA and the attention's scaled softmax, each one TensorFlow op (native/tf-kernels.c)
 * where the portable formulation in `@selfpatch/nn` runs 5-15 stock TF kernels, each a full pass over
 * memory. They compute what the wasm SIMD kernels compute (the same C sources).
 *
 * The ops live in a small Node-API addon built against the installed tfjs-node's libtensorflow
 * (`npm run build:tf-kernels -w @selfpatch/backend`, which `npm run setup:tfjs-node` runs).
 * Loading it registers the ops in the process's TensorFlow; this file then registers tfjs kernels
 * under the `@selfpatch/nn/kernels` names for the `tensorflow` backend, which call them through
 * tfjs-node's eager `executeOp`. Not used on a GPU device (tfjs-node-gpu with CUDA): these are
 * CPU kernels, and TF would copy every input to the host and back.
 *
 * `SELFPATCH_TF_KERNELS=off` leaves them out (tfjs's composites run); `SELFPATCH_TF_KERNELS=<path>`
 * loads the addon from that path.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADAMW_KERNEL, EMA_KERNEL, GELU_GRAD_KERNEL, GELU_KERNEL, LAYER_NORM_GRAD_KERNEL, LAYER_NORM_KERNEL, SCALED_SOFTMAX_KERNEL, SOFTMAX_GRAD_KERNEL, type AdamWScalars } from '@selfpatch/nn/kernels';

/** The part of tfjs-node's `NodeJSKernelBackend` used here. */
interface NodeBackendLike {
  isUsingGpuDevice: boolean;
  binding: { TF_ATTR_FLOAT: number };
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: tf.TensorInfo[]): tf.Tensor;
  executeMultipleOutputs(name: string, attrs: OpAttr[], inputs: tf.TensorInfo[], numOutputs: number): tf.Tensor[];
}
type OpAttr = { name: string; type: number; value: number };
type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown };

/** Where `build:tf-kernels` puts the addon for `pkg` (tfjs-node or tfjs-node-gpu). */
export function tfKernelsPath(pkg: string): string {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  return join(root, 'native', 'build', pkg.replace('@tensorflow/', ''), 'selfpatch_tf_kernels.node');
}

const floatAttr = (be: NodeBackendLike, name: string, value: number): OpAttr => ({ name, type: be.binding.TF_ATTR_FLOAT, value });

/**
 * A kernel that passes its inputs (in op order) and float attrs straight to the TF op `op`, as
 * GELU, LayerNorm and the softmax do.
 */
function direct(op: string, inputs: string[], attrs: string[], outputs = 1): (a: KernelArgs) => tf.TensorInfo | tf.TensorInfo[] {
  return ({ inputs: given, attrs: values, backend }) => {
    const be = backend as NodeBackendLike;
    const opAttrs = attrs.map((name) => floatAttr(be, name, (values as Record<string, number>)[name] as number));
    const ins = inputs.map((name) => given[name] as tf.TensorInfo);
    return outputs === 1 ? be.executeSingleOutput(op, opAttrs, ins) : be.executeMultipleOutputs(op, opAttrs, ins, outputs);
  };
}

/**
 * Runs the TF op `op` on `inputs` plus a float32 vector of per-step scalars. Inputs, not attrs:
 * they change every step, and eager TF caches a kernel instance per attr set.
 */
function withScalars(be: NodeBackendLike, op: string, inputs: tf.TensorInfo[], scalars: number[], outputs: number): tf.TensorInfo | tf.TensorInfo[] {
  const s = tf.tensor1d(scalars, 'float32');
  try {
    return outputs === 1 ? be.executeSingleOutput(op, [], [...inputs, s]) : be.executeMultipleOutputs(op, [], [...inputs, s], outputs);
  } finally {
    s.dispose();
  }
}

const KERNELS: Array<[string, (a: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]]> = [
  [GELU_KERNEL, direct('SelfPatchGelu', ['x'], [])],
  [GELU_GRAD_KERNEL, direct('SelfPatchGeluGrad', ['dy', 'x'], [])],
  [LAYER_NORM_KERNEL, direct('SelfPatchLayerNorm', ['x', 'weight', 'bias'], ['eps'])],
  [LAYER_NORM_GRAD_KERNEL, direct('SelfPatchLayerNormGrad', ['dy', 'x', 'weight'], ['eps'], 3)],
  [SCALED_SOFTMAX_KERNEL, direct('SelfPatchScaledSoftmax', ['x'], ['scale'])],
  [SOFTMAX_GRAD_KERNEL, direct('SelfPatchSoftmaxGrad', ['p', 'dp'], ['scale'])],
  [
    ADAMW_KERNEL,
    ({ inputs, attrs, backend }) => {
      const a = attrs as unknown as AdamWScalars;
      // The complements are rounded from double, as the wasm kernel's and the composite's.
      const scalars = [a.decay, a.beta1, 1 - a.beta1, a.beta2, 1 - a.beta2, a.eps, a.bc2Sqrt, a.stepSize];
      return withScalars(backend as NodeBackendLike, 'SelfPatchAdamW', [inputs.param, inputs.grad, inputs.expAvg, inputs.expAvgSq] as tf.TensorInfo[], scalars, 3);
    },
  ],
  [
    EMA_KERNEL,
    ({ inputs, attrs, backend }) => {
      const m = (attrs as unknown as { momentum: number }).momentum;
      return withScalars(backend as NodeBackendLike, 'SelfPatchEma', [inputs.teacher, inputs.student] as tf.TensorInfo[], [m, 1 - m], 1);
    },
  ],
];

/** Names of the fused kernels this file registers for `tensorflow`. */
export const TF_FUSED_KERNEL_NAMES: readonly string[] = KERNELS.map(([name]) => name);

let loaded: string | null = null;

/**
 * Loads the addon and registers the fused kernels for the active `tensorflow` backend. Returns a
 * short note for the backend reason: what runs, or why the composites run instead.
 *
 * @example
 * ```ts
 * await initBackend('tensorflow'); // calls this; its note ends the printed reason
 * ```
 */
export function installTensorflowKernels(pkg: string): string {
  const be = tf.backend() as unknown as NodeBackendLike;
  const setting = process.env.SELFPATCH_TF_KERNELS;
  if (setting === 'off') return 'fused kernels off (SELFPATCH_TF_KERNELS=off)';
  if (typeof be.executeSingleOutput !== 'function') return 'not tfjs-node\'s backend: no fused kernels';
  if (be.isUsingGpuDevice) return 'GPU device: TensorFlow\'s own kernels';
  const path = setting ?? tfKernelsPath(pkg);
  if (loaded !== path) {
    if (!existsSync(path)) {
      return setting ? `fused kernels not found at SELFPATCH_TF_KERNELS=${setting}` : 'fused kernels not built (npm run build:tf-kernels -w @selfpatch/backend): stock TF kernels';
    }
    try {
      createRequire(import.meta.url)(path);
    } catch (err) {
      return `fused kernels failed to load from ${path} (${err instanceof Error ? err.message.split('\n')[0] : String(err)}): stock TF kernels`;
    }
    loaded = path;
  }
  for (const [kernelName, kernelFunc] of KERNELS) {
    if (tf.getKernel(kernelName, 'tensorflow') === undefined) tf.registerKernel({ kernelName, backendName: 'tensorflow', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
  return 'fused native kernels';
}

/** Removes the fused kernels from `tensorflow` (all, or `names`), so the composites run. */
export function uninstallTensorflowKernels(names: readonly string[] = TF_FUSED_KERNEL_NAMES): void {
  for (const name of names) if (tf.getKernel(name, 'tensorflow') !== undefined) tf.unregisterKernel(name, 'tensorflow');
}
