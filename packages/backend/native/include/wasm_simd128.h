// The subset of clang's <wasm_simd128.h> that ../csrc uses, on GCC/Clang vector extensions, so the
// same kernel sources build for the native TensorFlow backend (tf-kernels.c) on any CPU the
// compiler targets (x86-64 SSE2/AVX2/AVX-512, AArch64 NEON). Each function is the lane-wise IEEE
// operation the WebAssembly SIMD spec defines, so native and wasm results agree bit for bit.
// SP_LANES (default 4, as wasm) widens the vectors for lane-count-agnostic code such as
// ../csrc/gelu-math.h: 16 lanes map to AVX-512 registers, or to 2 AVX2 / 4 SSE registers.
// Hand-written because no library provides this mapping for plain C.
#pragma once
#include <stdint.h>
#include <string.h>

#ifndef SP_LANES
#define SP_LANES 4
#endif
typedef int32_t v128_t __attribute__((vector_size(SP_LANES * 4)));
typedef float sp_f32x4 __attribute__((vector_size(SP_LANES * 4)));
typedef uint32_t sp_u32x4 __attribute__((vector_size(SP_LANES * 4)));

#define SP_INLINE static inline __attribute__((always_inline))
#define SP_F(v) ((sp_f32x4)(v))
#define SP_V(v) ((v128_t)(v))

SP_INLINE v128_t wasm_v128_load(const void *p) {
  v128_t v;
  memcpy(&v, p, sizeof v);
  return v;
}
SP_INLINE void wasm_v128_store(void *p, v128_t v) { memcpy(p, &v, sizeof v); }
SP_INLINE v128_t wasm_f32x4_splat(float x) {
  sp_f32x4 v;
  for (int i = 0; i < SP_LANES; i++) v[i] = x;
  return SP_V(v);
}
SP_INLINE v128_t wasm_i32x4_splat(int32_t x) {
  v128_t v;
  for (int i = 0; i < SP_LANES; i++) v[i] = x;
  return v;
}
#if SP_LANES == 4
SP_INLINE v128_t wasm_f32x4_make(float a, float b, float c, float d) { return SP_V(((sp_f32x4){a, b, c, d})); }
#endif
SP_INLINE v128_t wasm_f32x4_add(v128_t a, v128_t b) { return SP_V(SP_F(a) + SP_F(b)); }
SP_INLINE v128_t wasm_f32x4_sub(v128_t a, v128_t b) { return SP_V(SP_F(a) - SP_F(b)); }
SP_INLINE v128_t wasm_f32x4_mul(v128_t a, v128_t b) { return SP_V(SP_F(a) * SP_F(b)); }
SP_INLINE v128_t wasm_f32x4_div(v128_t a, v128_t b) { return SP_V(SP_F(a) / SP_F(b)); }
SP_INLINE float wasm_f32x4_extract_lane(v128_t v, int i) { return SP_F(v)[i]; }
SP_INLINE v128_t wasm_f32x4_abs(v128_t a) { return SP_V((sp_u32x4)a & 0x7fffffffu); }
SP_INLINE v128_t wasm_v128_bitselect(v128_t a, v128_t b, v128_t mask) { return (a & mask) | (b & ~mask); }
// Lane comparisons give all-ones or zero lanes, as in wasm.
SP_INLINE v128_t wasm_f32x4_ne(v128_t a, v128_t b) { return (v128_t)(SP_F(a) != SP_F(b)); }
SP_INLINE v128_t wasm_f32x4_ge(v128_t a, v128_t b) { return (v128_t)(SP_F(a) >= SP_F(b)); }
SP_INLINE v128_t wasm_f32x4_lt(v128_t a, v128_t b) { return (v128_t)(SP_F(a) < SP_F(b)); }
// Pseudo-min/max: b < a ? b : a and a < b ? b : a, lane-wise (x86 minps/maxps semantics).
SP_INLINE v128_t wasm_f32x4_pmin(v128_t a, v128_t b) { return wasm_v128_bitselect(b, a, wasm_f32x4_lt(b, a)); }
SP_INLINE v128_t wasm_f32x4_pmax(v128_t a, v128_t b) { return wasm_v128_bitselect(b, a, wasm_f32x4_lt(a, b)); }
// Round half to even. Adding and subtracting 1.5·2^23 rounds in the default rounding mode; exact
// for |x| < 2^22, and larger floats are integers already (kept as they are).
SP_INLINE v128_t wasm_f32x4_nearest(v128_t a) {
  const sp_f32x4 magic = SP_F(wasm_f32x4_splat(12582912.0f));
  sp_f32x4 t = SP_F(a) + magic;
  v128_t r = SP_V(t - magic);
  v128_t small = (v128_t)(SP_F(wasm_f32x4_abs(a)) < SP_F(wasm_f32x4_splat(4194304.0f)));
  // Keep the sign of -0.5 < x < 0 (rounds to -0), as wasm's nearest.
  r = SP_V((sp_u32x4)r | ((sp_u32x4)a & 0x80000000u));
  return wasm_v128_bitselect(r, a, small);
}
SP_INLINE v128_t wasm_f32x4_sqrt(v128_t a) {
  sp_f32x4 f = SP_F(a);
  for (int i = 0; i < SP_LANES; i++) f[i] = __builtin_sqrtf(f[i]);
  return SP_V(f);
}
// Callers convert values already clamped to the int32 range, where saturation never applies.
SP_INLINE v128_t wasm_i32x4_trunc_sat_f32x4(v128_t a) { return __builtin_convertvector(SP_F(a), v128_t); }
SP_INLINE v128_t wasm_i32x4_add(v128_t a, v128_t b) { return a + b; }
SP_INLINE v128_t wasm_i32x4_sub(v128_t a, v128_t b) { return a - b; }
SP_INLINE v128_t wasm_i32x4_shl(v128_t a, int n) { return a << n; }
SP_INLINE v128_t wasm_i32x4_shr(v128_t a, int n) { return a >> n; }
