// Row softmax of scaled scores and its gradient, for the attention core on tfjs-backend-wasm
// (see src/ops/attention.ts, src/simd-kernels.ts). Rows of `cols` floats, any width.
//
//   forward:  p = softmax(s * scale) = exp(s*scale - max) * (1 / sum)   (the official (q @ k^T) * scale)
//
// The normalisation multiplies by the sum's reciprocal, as PyTorch's CPU softmax does
// (aten/src/ATen/native/cpu/SoftMaxKernel.cpp, _vec_softmax_lastdim: `tmp_sum = 1 / tmp_sum`, then
// `x * tmp_sum`), so its rounding is the official runs' one, and a multiply is cheaper than a divide.
//   backward: ds = p * (dp - sum(dp * p)) * scale
#include "simd-math.h"

static inline float hmax(f4 v) {
  float a = wasm_f32x4_extract_lane(v, 0), b = wasm_f32x4_extract_lane(v, 1);
  float c = wasm_f32x4_extract_lane(v, 2), d = wasm_f32x4_extract_lane(v, 3);
  a = a > b ? a : b;
  c = c > d ? c : d;
  return a > c ? a : c;
}

static inline float hsum4(f4 v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) + wasm_f32x4_extract_lane(v, 2) +
         wasm_f32x4_extract_lane(v, 3);
}

__attribute__((export_name("scaled_softmax"))) void scaled_softmax(const float *s, float *p, int rows, int cols, float scale) {
  int c4 = cols & ~3;
  f4 k = splat(scale);
  for (int r = 0; r < rows; r++) {
    const float *sr = s + (long)r * cols;
    float *pr = p + (long)r * cols;
    // Four running maxima: one is a chain of dependent maxps, ~1 cycle an element. The maximum does
    // not depend on the order (pmax drops NaN either way, and ±0 give the same exp below).
    f4 mx0 = splat(-__builtin_inff()), mx1 = mx0, mx2 = mx0, mx3 = mx0;
    int j = 0;
    for (; j + 16 <= c4; j += 16) {
      mx0 = wasm_f32x4_pmax(mx0, wasm_f32x4_mul(wasm_v128_load(sr + j), k));
      mx1 = wasm_f32x4_pmax(mx1, wasm_f32x4_mul(wasm_v128_load(sr + j + 4), k));
      mx2 = wasm_f32x4_pmax(mx2, wasm_f32x4_mul(wasm_v128_load(sr + j + 8), k));
      mx3 = wasm_f32x4_pmax(mx3, wasm_f32x4_mul(wasm_v128_load(sr + j + 12), k));
    }
    for (; j < c4; j += 4) mx0 = wasm_f32x4_pmax(mx0, wasm_f32x4_mul(wasm_v128_load(sr + j), k));
    float m = hmax(wasm_f32x4_pmax(wasm_f32x4_pmax(mx0, mx1), wasm_f32x4_pmax(mx2, mx3)));
    for (int j = c4; j < cols; j++) {
      float t = sr[j] * scale;
      m = t > m ? t : m;
    }
    f4 m4 = splat(m);
    f4 acc = splat(0.0f), acc1 = splat(0.0f);
    j = 0;
    // Two independent exp chains per iteration (one alone is latency-bound). s·scale − max is at
    // most 0 (or NaN), where exp4's upper clamp changes nothing: only the lower one is applied.
    const f4 lo = splat(-110.0f);
    for (; j + 8 <= c4; j += 8) {
      f4 e0 = exp4_clamped(wasm_f32x4_pmax(wasm_f32x4_sub(wasm_f32x4_mul(wasm_v128_load(sr + j), k), m4), lo));
      f4 e1 = exp4_clamped(wasm_f32x4_pmax(wasm_f32x4_sub(wasm_f32x4_mul(wasm_v128_load(sr + j + 4), k), m4), lo));
      wasm_v128_store(pr + j, e0);
      wasm_v128_store(pr + j + 4, e1);
      acc = wasm_f32x4_add(acc, e0);
      acc1 = wasm_f32x4_add(acc1, e1);
    }
    for (; j < c4; j += 4) {
      f4 e = exp4(wasm_f32x4_sub(wasm_f32x4_mul(wasm_v128_load(sr + j), k), m4));
      wasm_v128_store(pr + j, e);
      acc = wasm_f32x4_add(acc, e);
    }
    acc = wasm_f32x4_add(acc, acc1);
    float sum = hsum4(acc);
    if (c4 < cols) {
      // The tail (< 4 values) through one vector; missing lanes are exp(-inf) = 0.
      float t1 = c4 + 1 < cols ? sr[c4 + 1] * scale - m : -__builtin_inff();
      float t2 = c4 + 2 < cols ? sr[c4 + 2] * scale - m : -__builtin_inff();
      f4 e = exp4(wasm_f32x4_make(sr[c4] * scale - m, t1, t2, -__builtin_inff()));
      pr[c4] = wasm_f32x4_extract_lane(e, 0);
      if (c4 + 1 < cols) pr[c4 + 1] = wasm_f32x4_extract_lane(e, 1);
      if (c4 + 2 < cols) pr[c4 + 2] = wasm_f32x4_extract_lane(e, 2);
      sum += hsum4(e);
    }
    float inv = 1.0f / sum;
    f4 inv4 = splat(inv);
    for (int j = 0; j < c4; j += 4) wasm_v128_store(pr + j, wasm_f32x4_mul(wasm_v128_load(pr + j), inv4));
    for (int j = c4; j < cols; j++) pr[j] = pr[j] * inv;
  }
}

__attribute__((export_name("softmax_grad"))) void softmax_grad(const float *p, const float *dp, float *ds, int rows, int cols, float scale) {
  int c4 = cols & ~3;
  f4 k = splat(scale);
  for (int r = 0; r < rows; r++) {
    const float *pr = p + (long)r * cols;
    const float *dr = dp + (long)r * cols;
    float *or = ds + (long)r * cols;
    f4 acc = splat(0.0f);
    for (int j = 0; j < c4; j += 4) acc = fma4(wasm_v128_load(pr + j), wasm_v128_load(dr + j), acc);
    float dot = hsum4(acc);
    for (int j = c4; j < cols; j++) dot += pr[j] * dr[j];
    f4 d4 = splat(dot);
    for (int j = 0; j < c4; j += 4) {
      f4 t = wasm_f32x4_mul(wasm_v128_load(pr + j), wasm_f32x4_sub(wasm_v128_load(dr + j), d4));
      wasm_v128_store(or + j, wasm_f32x4_mul(t, k));
    }
    for (int j = c4; j < cols; j++) or [j] = pr[j] * (dr[j] - dot) * scale;
  }
}
