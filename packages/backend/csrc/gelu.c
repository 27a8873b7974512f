// Fused exact GELU, forward and backward, for tfjs-backend-wasm (see src/simd-kernels.ts).
// Built by scripts/build-simd-kernels.mjs: clang --target=wasm32 -msimd128, no libc.
// Lengths are multiples of 16 (the caller pads its buffers): four vectors per iteration, because
// one vector's chain (div, two polynomials, exp) is latency-bound (measured 5.3 → 2.9 ns/element).
// The math is in gelu-math.h.
#include "gelu-math.h"

__attribute__((export_name("gelu_fwd"))) void gelu_fwd(const float *x, float *y, int n) {
  for (int i = 0; i < n; i += 16) {
    f4 v0 = wasm_v128_load(x + i), v1 = wasm_v128_load(x + i + 4), v2 = wasm_v128_load(x + i + 8), v3 = wasm_v128_load(x + i + 12);
    wasm_v128_store(y + i, GELU(v0));
    wasm_v128_store(y + i + 4, GELU(v1));
    wasm_v128_store(y + i + 8, GELU(v2));
    wasm_v128_store(y + i + 12, GELU(v3));
  }
}

__attribute__((export_name("gelu_bwd"))) void gelu_bwd(const float *dy, const float *x, float *dx, int n) {
  for (int i = 0; i < n; i += 16) {
    f4 d0 = wasm_v128_load(dy + i), d1 = wasm_v128_load(dy + i + 4), d2 = wasm_v128_load(dy + i + 8), d3 = wasm_v128_load(dy + i + 12);
    f4 v0 = wasm_v128_load(x + i), v1 = wasm_v128_load(x + i + 4), v2 = wasm_v128_load(x + i + 8), v3 = wasm_v128_load(x + i + 12);
    wasm_v128_store(dx + i, gelu_grad4(d0, v0));
    wasm_v128_store(dx + i + 4, gelu_grad4(d1, v1));
    wasm_v128_store(dx + i + 8, gelu_grad4(d2, v2));
    wasm_v128_store(dx + i + 12, gelu_grad4(d3, v3));
  }
}
