// Teacher EMA update t = t*m + s*(1-m) in one pass (the DINO momentum teacher; see
// src/simd-kernels.ts), in the composite's operation order so wasm results do not change.
// n is a multiple of 4 (the caller pads its buffers).
#include "simd-math.h"

__attribute__((export_name("ema_step"))) void ema_step(const float *t, const float *s, float *out, int n, float m, float one_minus_m) {
  f4 km = splat(m), kc = splat(one_minus_m);
  for (int i = 0; i < n; i += 4)
    wasm_v128_store(out + i, wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(t + i), km), wasm_f32x4_mul(wasm_v128_load(s + i), kc)));
}
