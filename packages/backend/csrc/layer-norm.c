// Fused LayerNorm over the last axis, forward and backward, for tfjs-backend-wasm (see
// src/simd-kernels.ts and src/ops/layer-norm.ts). Rows of C floats; C need not be a multiple of 4.
//
//   forward:  mu = mean(x), var = mean((x - mu)^2) (biased, two passes, as torch),
//             r = 1/sqrt(var + eps), y = (x - mu) r w + b
//   backward: xh = (x - mu) r, g = dy w,
//             dx = r (g - mean(g) - xh mean(g xh)),  dw = sum_rows dy xh,  db = sum_rows dy
#include "simd-math.h"

static inline float hsum(f4 v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) + wasm_f32x4_extract_lane(v, 2) +
         wasm_f32x4_extract_lane(v, 3);
}

// Mean and 1/sqrt(var + eps) of one row (two passes, biased variance).
static inline void row_stats(const float *xr, int c, float eps, float *mu_out, float *rs_out) {
  int c4 = c & ~3;
  f4 acc = splat(0.0f);
  for (int j = 0; j < c4; j += 4) acc = wasm_f32x4_add(acc, wasm_v128_load(xr + j));
  float s = hsum(acc);
  for (int j = c4; j < c; j++) s += xr[j];
  float mu = s / (float)c;
  f4 mu4 = splat(mu);
  acc = splat(0.0f);
  for (int j = 0; j < c4; j += 4) {
    f4 d = wasm_f32x4_sub(wasm_v128_load(xr + j), mu4);
    acc = fma4(d, d, acc);
  }
  float ss = hsum(acc);
  for (int j = c4; j < c; j++) ss += (xr[j] - mu) * (xr[j] - mu);
  *mu_out = mu;
  *rs_out = 1.0f / __builtin_sqrtf(ss / (float)c + eps);
}

__attribute__((export_name("layer_norm_fwd"))) void layer_norm_fwd(const float *x, const float *w, const float *b, float *y, int rows,
                                                                     int c, float eps) {
  int c4 = c & ~3;
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (long)r * c;
    float *yr = y + (long)r * c;
    float mu, rs;
    row_stats(xr, c, eps, &mu, &rs);
    f4 mu4 = splat(mu), rs4 = splat(rs);
    for (int j = 0; j < c4; j += 4) {
      f4 xh = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xr + j), mu4), rs4);
      wasm_v128_store(yr + j, fma4(xh, wasm_v128_load(w + j), wasm_v128_load(b + j)));
    }
    for (int j = c4; j < c; j++) yr[j] = (xr[j] - mu) * rs * w[j] + b[j];
  }
}

// The statistics are recomputed from x (cheaper than keeping them alive through the tape).
// dw and db must be zeroed by the caller (they accumulate over rows).
__attribute__((export_name("layer_norm_bwd"))) void layer_norm_bwd(const float *dy, const float *x, const float *w, float *dx, float *dw,
                                                                     float *db, int rows, int c, float eps) {
  int c4 = c & ~3;
  float inv_c = 1.0f / (float)c;
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (long)r * c;
    const float *dyr = dy + (long)r * c;
    float *dxr = dx + (long)r * c;
    float mu, rs;
    row_stats(xr, c, eps, &mu, &rs);
    f4 mu4 = splat(mu), rs4 = splat(rs);
    f4 sg = splat(0.0f), sgx = splat(0.0f);
    for (int j = 0; j < c4; j += 4) {
      f4 xh = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xr + j), mu4), rs4);
      f4 d = wasm_v128_load(dyr + j);
      f4 g = wasm_f32x4_mul(d, wasm_v128_load(w + j));
      sg = wasm_f32x4_add(sg, g);
      sgx = fma4(g, xh, sgx);
      wasm_v128_store(dw + j, fma4(d, xh, wasm_v128_load(dw + j)));
      wasm_v128_store(db + j, wasm_f32x4_add(d, wasm_v128_load(db + j)));
    }
    float s1 = hsum(sg), s2 = hsum(sgx);
    for (int j = c4; j < c; j++) {
      float xh = (xr[j] - mu) * rs;
      float g = dyr[j] * w[j];
      s1 += g;
      s2 += g * xh;
      dw[j] += dyr[j] * xh;
      db[j] += dyr[j];
    }
    f4 m1 = splat(s1 * inv_c), m2 = splat(s2 * inv_c);
    for (int j = 0; j < c4; j += 4) {
      f4 xh = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xr + j), mu4), rs4);
      f4 g = wasm_f32x4_mul(wasm_v128_load(dyr + j), wasm_v128_load(w + j));
      f4 t = wasm_f32x4_sub(wasm_f32x4_sub(g, m1), wasm_f32x4_mul(xh, m2));
      wasm_v128_store(dxr + j, wasm_f32x4_mul(t, rs4));
    }
    for (int j = c4; j < c; j++) {
      float xh = (xr[j] - mu) * rs;
      float g = dyr[j] * w[j];
      dxr[j] = (g - s1 * inv_c - xh * s2 * inv_c) * rs;
    }
  }
}
