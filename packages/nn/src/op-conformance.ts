/**
 * Conformance cases for the differentiable ops of this package: each op against an independent
 * stock-tfjs formulation and central finite differences, forward and gradients. This package runs
 * them on stock cpu and wasm (the portable formulations); a backend package runs the same cases
 * with its fused kernels registered (`@selfpatch/backend` does for wasm), so a kernel that
 * disagrees with the op it replaces fails here.
 */
import '#register-gradients';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from './rng.js';
import { matmul2d, linear } from './ops/matmul.js';
import { gelu } from './ops/gelu.js';
import { layerNorm } from './ops/layer-norm.js';
import { attentionWithBias, scaledDotProductAttention } from './ops/attention.js';
import { maxAbsDiff } from './max-abs-diff.js';

export function randn(shape: number[], rng: Rng): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = rng.normal();
  return tf.tensor(d, shape);
}

/** Central finite-difference gradient of scalar f at x (float32; coarse eps keeps rounding small). */
function numericGrad(f: (x: tf.Tensor) => tf.Scalar, x: tf.Tensor, eps = 1e-2): Float32Array {
  const base = x.dataSync().slice();
  const g = new Float32Array(base.length);
  for (let i = 0; i < base.length; i++) {
    const plus = base.slice();
    plus[i] = (plus[i] as number) + eps;
    const minus = base.slice();
    minus[i] = (minus[i] as number) - eps;
    const fp = tf.tidy(() => f(tf.tensor(plus, x.shape)).dataSync()[0] as number);
    const fm = tf.tidy(() => f(tf.tensor(minus, x.shape)).dataSync()[0] as number);
    g[i] = (fp - fm) / (2 * eps);
  }
  return g;
}

export interface OpCase {
  name: string;
  inputs: (rng: Rng) => tf.Tensor[];
  /** Op under test. */
  f: (...xs: tf.Tensor[]) => tf.Tensor;
  /** Independent formulation with stock tfjs ops and stock gradients. */
  ref: (...xs: tf.Tensor[]) => tf.Tensor;
}

export const OP_CASES: readonly OpCase[] = [
  {
    name: 'matmul2d',
    inputs: (r) => [randn([5, 7], r), randn([7, 3], r)],
    f: (a, b) => matmul2d(a as tf.Tensor, b as tf.Tensor),
    ref: (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
  },
  {
    name: 'linear with bias, rank 3',
    inputs: (r) => [randn([2, 4, 6], r), randn([5, 6], r), randn([5], r)],
    f: (x, w, b) => linear(x as tf.Tensor, w as tf.Tensor, b),
    ref: (x, w, b) =>
      tf.reshape(tf.add(tf.matMul(tf.reshape(x as tf.Tensor, [-1, 6]) as tf.Tensor2D, w as tf.Tensor2D, false, true), b as tf.Tensor), [2, 4, 5]),
  },
  {
    name: 'linear without bias',
    inputs: (r) => [randn([3, 6], r), randn([4, 6], r)],
    f: (x, w) => linear(x as tf.Tensor, w as tf.Tensor),
    ref: (x, w) => tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D, false, true),
  },
  {
    name: 'gelu',
    inputs: (r) => [tf.mul(randn([4, 9], r), 2)],
    f: (x) => gelu(x as tf.Tensor),
    ref: (x) => tf.mul(tf.mul(x as tf.Tensor, 0.5), tf.add(1, tf.erf(tf.div(x as tf.Tensor, Math.SQRT2)))),
  },
  {
    name: 'layerNorm',
    inputs: (r) => [randn([3, 8], r), randn([8], r), randn([8], r)],
    f: (x, w, b) => layerNorm(x as tf.Tensor, w as tf.Tensor, b as tf.Tensor, 1e-6),
    ref: (x, w, b) => {
      const mu = tf.mean(x as tf.Tensor, -1, true);
      const v = tf.mean(tf.square(tf.sub(x as tf.Tensor, mu)), -1, true);
      return tf.add(tf.mul(tf.div(tf.sub(x as tf.Tensor, mu), tf.sqrt(tf.add(v, 1e-6))), w as tf.Tensor), b as tf.Tensor);
    },
  },
  {
    name: 'scaledDotProductAttention',
    inputs: (r) => [randn([3, 5, 4], r), randn([3, 5, 4], r), randn([3, 5, 4], r)],
    f: (q, k, v) => scaledDotProductAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, 0.5).out,
    ref: (q, k, v) => tf.matMul(tf.softmax(tf.mul(tf.matMul(q as tf.Tensor3D, k as tf.Tensor3D, false, true), 0.5)), v as tf.Tensor3D),
  },
  {
    // Rows of 7 (a SIMD tail of 3), keys != queries, a non-power-of-two scale.
    name: 'scaledDotProductAttention (7 keys, 3 queries)',
    inputs: (r) => [randn([2, 3, 6], r), randn([2, 7, 6], r), randn([2, 7, 5], r)],
    f: (q, k, v) => scaledDotProductAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, 6 ** -0.5).out,
    ref: (q, k, v) => tf.matMul(tf.softmax(tf.mul(tf.matMul(q as tf.Tensor3D, k as tf.Tensor3D, false, true), 6 ** -0.5)), v as tf.Tensor3D),
  },
  {
    // Sizes past the SIMD kernel's 4×8 register tiles with ragged edges in every product:
    // 9 queries (2 tiles + 1 row), 17 keys (2 tiles + 1 column), d 12 (a tile + 4), values 8 wide.
    name: 'scaledDotProductAttention (tiles and edges: 9 queries, 17 keys, d 12)',
    inputs: (r) => [randn([2, 9, 12], r), randn([2, 17, 12], r), randn([2, 17, 8], r)],
    f: (q, k, v) => scaledDotProductAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, 0.3).out,
    ref: (q, k, v) => tf.matMul(tf.softmax(tf.mul(tf.matMul(q as tf.Tensor3D, k as tf.Tensor3D, false, true), 0.3)), v as tf.Tensor3D),
  },
  {
    // Swin's form: an additive bias per group of slices (4 slices, 2 groups: slice s takes s mod 2),
    // differentiated in the bias too; same tile-and-edge sizes.
    name: 'attentionWithBias (2 bias groups over 4 slices)',
    inputs: (r) => [randn([4, 9, 12], r), randn([4, 17, 12], r), randn([4, 17, 8], r), randn([2, 9, 17], r)],
    f: (q, k, v, b) => attentionWithBias(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, b as tf.Tensor3D, 0.3),
    ref: (q, k, v, b) => {
      const s = tf.mul(tf.matMul(q as tf.Tensor3D, k as tf.Tensor3D, false, true), 0.3);
      return tf.matMul(tf.softmax(tf.reshape(tf.add(tf.reshape(s, [2, 2, 9, 17]), b as tf.Tensor), [4, 9, 17])), v as tf.Tensor3D);
    },
  },
];

export interface OpCaseResult {
  /** Gradients per backend (for cross-backend comparison). */
  grads: Record<string, Float32Array[]>;
}

/**
 * Runs one case on each backend (activated by `use`): forward within 1e-5 of the reference,
 * gradients within 2e-5 (relative to the largest) of the reference gradients and within 2e-2 of
 * finite differences. Throws an Error naming the backend and input on the first disagreement.
 */
export async function checkOpCase(c: OpCase, backends: readonly string[], use: (backend: string) => Promise<void>): Promise<OpCaseResult> {
  const results: Record<string, Float32Array[]> = {};
  const check = (ok: boolean, what: string): void => {
    if (!ok) throw new Error(`${c.name}: ${what}`);
  };
  for (const backend of backends) {
    await use(backend);
    const rng = new Rng(11);
    const inputs = c.inputs(rng);
    // A random projection makes the loss sensitive to every output element.
    const proj = tf.tidy(() => randn(c.ref(...inputs).shape, new Rng(3)));
    const loss = (fn: (...xs: tf.Tensor[]) => tf.Tensor) => (...xs: tf.Tensor[]) => tf.sum(tf.mul(fn(...xs), proj)) as tf.Scalar;
    const y = tf.tidy(() => c.f(...inputs));
    const yRef = tf.tidy(() => c.ref(...inputs));
    check(maxAbsDiff(y, yRef) < 1e-5, `${backend} forward differs by ${maxAbsDiff(y, yRef)}`);
    const grads = tf.tidy(() => tf.grads(loss(c.f))(inputs));
    const refGrads = tf.tidy(() => tf.grads(loss(c.ref))(inputs));
    grads.forEach((g, i) => {
      const d = maxAbsDiff(g, refGrads[i] as tf.Tensor);
      check(d < 2e-5 * Math.max(1, tf.max(tf.abs(refGrads[i] as tf.Tensor)).dataSync()[0] as number), `${backend} grad ${i} differs by ${d}`);
      const others = inputs.map((t) => t);
      const fd = numericGrad((x) => {
        others[i] = x;
        return loss(c.f)(...others);
      }, inputs[i] as tf.Tensor);
      const scale = Math.max(1, ...Array.from(fd, Math.abs));
      check(maxAbsDiff(g, fd) < 2e-2 * scale, `${backend} grad ${i} vs finite differences: ${maxAbsDiff(g, fd)}`);
    });
    results[backend] = grads.map((g) => g.dataSync() as Float32Array);
    tf.dispose([y, yRef, proj, ...grads, ...refGrads, ...inputs]);
  }
  return { grads: results };
}
