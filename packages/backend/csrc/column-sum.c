// Sum over the leading axes of a row-major array, out[j] = sum_i x[i*cols + j], for
// tfjs-backend-wasm's `Sum` when it reduces leading axes (bias gradients, `tf.sum(dy, 0)`; see
// src/wasm-kernels.ts). The stock kernel transposes first (~1.4 ms for [784,768]). Rows are added
// in order, as the stock kernel does; out must be zeroed by the caller.
#include "simd-math.h"

__attribute__((export_name("column_sum"))) void column_sum(const float *x, float *out, int rows, int cols) {
  int c4 = cols & ~3;
  for (int i = 0; i < rows; i++) {
    const float *xr = x + (long)i * cols;
    for (int j = 0; j < c4; j += 4) wasm_v128_store(out + j, wasm_f32x4_add(wasm_v128_load(out + j), wasm_v128_load(xr + j)));
    for (int j = c4; j < cols; j++) out[j] += xr[j];
  }
}
