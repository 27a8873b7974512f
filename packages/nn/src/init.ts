/**
 * Parameter initialisers with PyTorch semantics (docs/selfpatch.md §5 "Initialisation"), drawn from
 * a seeded {@link Rng} so a run is reproducible. Values are not bit-identical to torch's RNG.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from './rng.js';

/** Inverse error function (Giles 2010 single-precision approximation + one Newton step). */
export function erfinv(x: number): number {
  if (x <= -1) return -Infinity;
  if (x >= 1) return Infinity;
  let w = -Math.log((1 - x) * (1 + x));
  let p: number;
  if (w < 6.25) {
    w -= 3.125;
    p = -3.6444120640178196996e-21;
    p = -1.685059138182016589e-19 + p * w;
    p = 1.2858480715256400167e-18 + p * w;
    p = 1.115787767802518096e-17 + p * w;
    p = -1.333171662854620906e-16 + p * w;
    p = 2.0972767875968561637e-17 + p * w;
    p = 6.6376381343583238325e-15 + p * w;
    p = -4.0545662729752068639e-14 + p * w;
    p = -8.1519341976054721522e-14 + p * w;
    p = 2.6335093153082322977e-12 + p * w;
    p = -1.2975133253453532498e-11 + p * w;
    p = -5.4154120542946279317e-11 + p * w;
    p = 1.051212273321532285e-09 + p * w;
    p = -4.1126339803469836976e-09 + p * w;
    p = -2.9070369957882005086e-08 + p * w;
    p = 4.2347877827932403518e-07 + p * w;
    p = -1.3654692000834678645e-06 + p * w;
    p = -1.3882523362786468719e-05 + p * w;
    p = 0.0001867342080340571352 + p * w;
    p = -0.00074070253416626697512 + p * w;
    p = -0.0060336708714301490533 + p * w;
    p = 0.24015818242558961693 + p * w;
    p = 1.6536545626831027356 + p * w;
  } else if (w < 16) {
    w = Math.sqrt(w) - 3.25;
    p = 2.2137376921775787049e-09;
    p = 9.0756561938885390979e-08 + p * w;
    p = -2.7517406297064545428e-07 + p * w;
    p = 1.8239629214389227755e-08 + p * w;
    p = 1.5027403968909827627e-06 + p * w;
    p = -4.013867526981545969e-06 + p * w;
    p = 2.9234449089955446044e-06 + p * w;
    p = 1.2475304481671778723e-05 + p * w;
    p = -4.7318229009055733981e-05 + p * w;
    p = 6.8284851459573175448e-05 + p * w;
    p = 2.4031110387097893999e-05 + p * w;
    p = -0.0003550375203628474796 + p * w;
    p = 0.00095328937973738049703 + p * w;
    p = -0.0016882755560235047313 + p * w;
    p = 0.0024914420961078508066 + p * w;
    p = -0.0037512085075692412107 + p * w;
    p = 0.005370914553590063617 + p * w;
    p = 1.0052589676941592334 + p * w;
    p = 3.0838856104922207635 + p * w;
  } else {
    w = Math.sqrt(w) - 5;
    p = -2.7109920616438573243e-11;
    p = -2.5556418169965252055e-10 + p * w;
    p = 1.5076572693500548083e-09 + p * w;
    p = -3.7894654401267369937e-09 + p * w;
    p = 7.6157012080783393804e-09 + p * w;
    p = -1.4960026627149240478e-08 + p * w;
    p = 2.9147953450901080826e-08 + p * w;
    p = -6.7711997758452339498e-08 + p * w;
    p = 2.2900482228026654717e-07 + p * w;
    p = -9.9298272942317002539e-07 + p * w;
    p = 4.5260625972231537039e-06 + p * w;
    p = -1.9681778105531670567e-05 + p * w;
    p = 7.5995277030017761139e-05 + p * w;
    p = -0.00021503011930044477347 + p * w;
    p = -0.00013871931833623122026 + p * w;
    p = 1.0103004648645343977 + p * w;
    p = 4.8499064014085844221 + p * w;
  }
  return p * x;
}

function normCdf(x: number): number {
  return 0.5 * (1 + erfApprox(x / Math.SQRT2));
}

/** erf with |error| < 1.2e-7 (Numerical Recipes erfc); enough for computing init bounds. */
function erfApprox(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

let skipping = 0;

/**
 * Builds modules whose every parameter is about to be overwritten (a checkpoint load): inside
 * `build`, {@link truncNormal} and {@link uniformInit} return zeros without drawing. Drawing
 * ViT-S/16's 22 M values through `erfinv` took ~1.4 s of every CLI start.
 *
 * @example
 * ```ts
 * const vit = withoutInit(() => new VisionTransformer(config));
 * vit.loadStateDict(stateDict); // strict: every parameter replaced
 * ```
 */
export function withoutInit<T>(build: () => T): T {
  skipping++;
  try {
    return build();
  } finally {
    skipping--;
  }
}

export interface TruncNormalOptions {
  mean?: number;
  std?: number;
  /** Lower bound in absolute units (PyTorch `a`, default -2). */
  a?: number;
  /** Upper bound in absolute units (PyTorch `b`, default 2). */
  b?: number;
}

/**
 * `torch.nn.init.trunc_normal_` / timm `trunc_normal_`: inverse-CDF sampling of N(mean, std²)
 * truncated to the absolute interval [a, b] (with std 0.02 and the default ±2 this is effectively
 * untruncated, as in the official code).
 */
export function truncNormal(shape: number[], rng: Rng, opts: TruncNormalOptions = {}): tf.Tensor {
  if (skipping > 0) return tf.zeros(shape, 'float32');
  const mean = opts.mean ?? 0;
  const std = opts.std ?? 1;
  const a = opts.a ?? -2;
  const b = opts.b ?? 2;
  const l = normCdf((a - mean) / std);
  const u = normCdf((b - mean) / std);
  const n = shape.reduce((p, d) => p * d, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = erfinv(rng.uniformRange(2 * l - 1, 2 * u - 1)) * std * Math.SQRT2 + mean;
    data[i] = Math.min(b, Math.max(a, v));
  }
  return tf.tensor(data, shape, 'float32');
}

/** Uniform `U(low, high)` tensor. */
export function uniformInit(shape: number[], rng: Rng, low: number, high: number): tf.Tensor {
  if (skipping > 0) return tf.zeros(shape, 'float32');
  const n = shape.reduce((p, d) => p * d, 1);
  return tf.tensor(rng.fillUniform(new Float32Array(n), low, high), shape, 'float32');
}

/** PyTorch's default `nn.Linear`/`nn.Conv2d` init: `U(±1/√fan_in)` (kaiming_uniform with a=√5). */
export function defaultLinearInit(shape: number[], fanIn: number, rng: Rng): tf.Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  return uniformInit(shape, rng, -bound, bound);
}
