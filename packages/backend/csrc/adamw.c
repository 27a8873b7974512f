// One AdamW update of a parameter tensor (torch.optim.AdamW, torch 1.13 single-tensor path), in the
// operation order of @selfpatch/ssl's AdamW so wasm and cpu agree (see src/simd-kernels.ts):
//   p = p*decay;  m = m*b1 + g*(1-b1);  v = v*b2 + (g*g)*(1-b2)
//   p = p - (m / (sqrt(v)/bc2_sqrt + eps)) * step_size
// n is a multiple of 4 (the caller pads its buffers).
#include "simd-math.h"

__attribute__((export_name("adamw_step"))) void adamw_step(const float *p, const float *g, const float *m, const float *v, float *po,
                                                             float *mo, float *vo, int n, float decay, float b1, float one_minus_b1,
                                                             float b2, float one_minus_b2, float bc2_sqrt, float eps, float step_size) {
  f4 kd = splat(decay), kb1 = splat(b1), kc1 = splat(one_minus_b1), kb2 = splat(b2), kc2 = splat(one_minus_b2);
  f4 kbc = splat(bc2_sqrt), keps = splat(eps), kstep = splat(step_size);
  for (int i = 0; i < n; i += 4) {
    f4 gi = wasm_v128_load(g + i);
    f4 pi = wasm_f32x4_mul(wasm_v128_load(p + i), kd);
    f4 mi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(m + i), kb1), wasm_f32x4_mul(gi, kc1));
    f4 vi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(v + i), kb2), wasm_f32x4_mul(wasm_f32x4_mul(gi, gi), kc2));
    f4 denom = wasm_f32x4_add(wasm_f32x4_div(wasm_f32x4_sqrt(vi), kbc), keps);
    pi = wasm_f32x4_sub(pi, wasm_f32x4_mul(wasm_f32x4_div(mi, denom), kstep));
    wasm_v128_store(po + i, pi);
    wasm_v128_store(mo + i, mi);
    wasm_v128_store(vo + i, vi);
  }
}
