// Elementwise exp for tfjs-backend-wasm's `Exp` (see src/simd-kernels.ts): the stock kernel calls
// scalar expf per element (~9 ns each here); this is exp4 from simd-math.h over 4 lanes.
// n is a multiple of 16 (the caller pads its buffers): four independent vectors per iteration.
#include "simd-math.h"

__attribute__((export_name("exp_fwd"))) void exp_fwd(const float *x, float *y, int n) {
  for (int i = 0; i < n; i += 16) {
    f4 v0 = wasm_v128_load(x + i), v1 = wasm_v128_load(x + i + 4), v2 = wasm_v128_load(x + i + 8), v3 = wasm_v128_load(x + i + 12);
    wasm_v128_store(y + i, exp4(v0));
    wasm_v128_store(y + i + 4, exp4(v1));
    wasm_v128_store(y + i + 8, exp4(v2));
    wasm_v128_store(y + i + 12, exp4(v3));
  }
}
