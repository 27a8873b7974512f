// Exact GELU and its derivative on SIMD vectors, shared by gelu.c (wasm) and the native
// TensorFlow kernels (../native/tf-gelu.c, which builds it with wider vectors). Lane-count
// agnostic: only lane-wise operations.
//
// Phi(x) = 1 - erfc(x/sqrt2)/2 (x >= 0), erfc(|x|/sqrt2)/2 (x < 0), with erfc from the Chebyshev
// fit of Press et al. (Numerical Recipes "erfcc", fractional error < 1.2e-7);
// exp from simd-math.h.
#pragma once
#include "simd-math.h"

// poly(t) of erfc(z) = t * exp(-z^2 + poly(t)), t = 1/(1 + z/2), z >= 0.
static inline f4 erfc_poly(f4 t) {
  f4 p = splat(0.17087277f);
  p = fma4(p, t, splat(-0.82215223f));
  p = fma4(p, t, splat(1.48851587f));
  p = fma4(p, t, splat(-1.13520398f));
  p = fma4(p, t, splat(0.27886807f));
  p = fma4(p, t, splat(-0.18628806f));
  p = fma4(p, t, splat(0.09678418f));
  p = fma4(p, t, splat(0.37409196f));
  p = fma4(p, t, splat(1.00002368f));
  return fma4(p, t, splat(-1.26551223f));
}

// Phi(x) with one exp: erfc(|x|/sqrt2) = t * exp(-x^2/2 + poly(t)).
static inline f4 phi_cdf(f4 x) {
  f4 z = wasm_f32x4_mul(wasm_f32x4_abs(x), splat(0.70710678118654752f));
  f4 t = wasm_f32x4_div(splat(1.0f), fma4(z, splat(0.5f), splat(1.0f)));
  f4 e = exp4(wasm_f32x4_sub(erfc_poly(t), wasm_f32x4_mul(z, z)));
  f4 half = wasm_f32x4_mul(wasm_f32x4_mul(t, e), splat(0.5f));
  v128_t pos = wasm_f32x4_ge(x, splat(0.0f));
  return wasm_v128_bitselect(wasm_f32x4_sub(splat(1.0f), half), half, pos);
}

static inline f4 gauss(f4 x) { return exp4(wasm_f32x4_mul(wasm_f32x4_mul(x, x), splat(-0.5f))); }

#define GELU(v) wasm_f32x4_mul(v, phi_cdf(v))

// dx = dy * (Phi(x) + x * phi(x)), phi(x) = exp(-x^2/2) / sqrt(2 pi)
static inline f4 gelu_grad4(f4 d, f4 v) {
  f4 s = fma4(wasm_f32x4_mul(v, gauss(v)), splat(0.39894228040143268f), phi_cdf(v));
  return wasm_f32x4_mul(d, s);
}
