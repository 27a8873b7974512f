/**
 * AdamW as `torch.optim.AdamW` (torch 1.13, `_single_tensor_adamw`; docs/selfpatch.md §5 step 6):
 *
 *   t += 1;  θ ← θ(1 − lr·wd);  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²
 *   θ ← θ − (lr/(1−β1ᵗ)) · m / (√v/√(1−β2ᵗ) + ε)
 *
 * Parameters without a gradient are skipped entirely (no decay, no moment update, no step count),
 * which is how the frozen last layer's Adam state ends up one step behind in the reference.
 * On wasm each parameter's update is one fused SIMD kernel (`fusedAdamW`, same operation order).
 */
import * as tf from '@tensorflow/tfjs-core';
import { fusedAdamW, tensorToRaw, type RawTensor } from '@selfpatch/nn';

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
}

export interface AdamParamState {
  step: number;
  expAvg: tf.Tensor;
  expAvgSq: tf.Tensor;
}

export interface AdamGroup {
  params: Array<[string, tf.Variable]>;
  lr: number;
  weightDecay: number;
}

/** Serialisable optimizer state. */
export interface AdamWStateDict {
  [name: string]: { step: number; exp_avg: RawTensor; exp_avg_sq: RawTensor };
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly state = new Map<string, AdamParamState>();

  constructor(options: AdamWOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
  }

  /**
   * One update of every parameter in `groups` that has a gradient in `grads`.
   *
   * @example
   * ```ts
   * const opt = new AdamW();
   * opt.step([{ params: groups.regularized, lr, weightDecay: wd }, { params: groups.notRegularized, lr, weightDecay: 0 }], grads);
   * ```
   */
  step(groups: AdamGroup[], grads: Map<string, tf.Tensor | null>): void {
    const { beta1: b1, beta2: b2, eps } = this;
    for (const group of groups) {
      for (const [name, p] of group.params) {
        const g = grads.get(name);
        if (!g) continue;
        let st = this.state.get(name);
        if (!st) {
          st = { step: 0, expAvg: tf.keep(tf.zerosLike(p)), expAvgSq: tf.keep(tf.zerosLike(p)) };
          this.state.set(name, st);
        }
        st.step += 1;
        const bc1 = 1 - b1 ** st.step;
        const bc2Sqrt = Math.sqrt(1 - b2 ** st.step);
        const stepSize = group.lr / bc1;
        const state = st;
        const decay = 1 - group.lr * group.weightDecay;
        const fused = fusedAdamW(p, g, state.expAvg, state.expAvgSq, { decay, beta1: b1, beta2: b2, eps, bc2Sqrt, stepSize });
        let m: tf.Tensor;
        let v: tf.Tensor;
        if (fused) {
          p.assign(fused[0]);
          fused[0].dispose();
          [, m, v] = fused;
        } else {
          [m, v] = tf.tidy(() => {
            p.assign(tf.mul(p, decay));
            const m2 = tf.add(tf.mul(state.expAvg, b1), tf.mul(g, 1 - b1));
            const v2 = tf.add(tf.mul(state.expAvgSq, b2), tf.mul(tf.mul(g, g), 1 - b2));
            const denom = tf.add(tf.div(tf.sqrt(v2), bc2Sqrt), eps);
            p.assign(tf.sub(p, tf.mul(tf.div(m2, denom), stepSize)));
            return [tf.keep(m2), tf.keep(v2)];
          });
        }
        st.expAvg.dispose();
        st.expAvgSq.dispose();
        st.expAvg = m;
        st.expAvgSq = v;
      }
    }
  }

  stateDict(): AdamWStateDict {
    const out: AdamWStateDict = {};
    for (const [name, st] of this.state) out[name] = { step: st.step, exp_avg: tensorToRaw(st.expAvg), exp_avg_sq: tensorToRaw(st.expAvgSq) };
    return out;
  }

  loadStateDict(sd: AdamWStateDict, toTensor: (r: RawTensor) => tf.Tensor): void {
    this.dispose();
    for (const [name, s] of Object.entries(sd)) {
      this.state.set(name, { step: s.step, expAvg: tf.keep(toTensor(s.exp_avg)), expAvgSq: tf.keep(toTensor(s.exp_avg_sq)) });
    }
  }

  dispose(): void {
    for (const st of this.state.values()) tf.dispose([st.expAvg, st.expAvgSq]);
    this.state.clear();
  }
}
