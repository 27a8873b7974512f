// Elementwise exp for tfjs-backend-wasm's `Exp` (see src/simd-kernels.ts): the stock kernel calls
// scalar expf per element (~9 ns each here); this is exp4 from simd-math.h over 4 lanes.
// n is a multiple of 4 (the caller pads its buffers).
#include "simd-math.h"

__attribute__((export_name("exp_fwd"))) void exp_fwd(const float *x, float *y, int n) {
  for (int i = 0; i < n; i += 4) wasm_v128_store(y + i, exp4(wasm_v128_load(x + i)));
}
