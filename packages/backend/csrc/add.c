// out = a + b over n floats (any n), for the fused inference block (src/inference-block.ts): a ViT
// block's residual sums `x + attn(norm1(x))` and `y + mlp(norm2(y))` inside the kernel module,
// where the op-by-op path runs tfjs's Add. An IEEE sum either way, so the same bits.
#include "simd-math.h"

__attribute__((export_name("add_fwd"))) void add_fwd(const float *a, const float *b, float *out, int n) {
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    f4 a0 = wasm_v128_load(a + i), a1 = wasm_v128_load(a + i + 4), a2 = wasm_v128_load(a + i + 8), a3 = wasm_v128_load(a + i + 12);
    wasm_v128_store(out + i, wasm_f32x4_add(a0, wasm_v128_load(b + i)));
    wasm_v128_store(out + i + 4, wasm_f32x4_add(a1, wasm_v128_load(b + i + 4)));
    wasm_v128_store(out + i + 8, wasm_f32x4_add(a2, wasm_v128_load(b + i + 8)));
    wasm_v128_store(out + i + 12, wasm_f32x4_add(a3, wasm_v128_load(b + i + 12)));
  }
  for (; i + 4 <= n; i += 4) wasm_v128_store(out + i, wasm_f32x4_add(wasm_v128_load(a + i), wasm_v128_load(b + i)));
  for (; i < n; i++) out[i] = a[i] + b[i];
}
