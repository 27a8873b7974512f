// Inference-time Linear, y = x·Wᵀ + b, for tfjs-backend-wasm (see src/simd-kernels.ts). Used in
// eval mode off the gradient tape, where W does not change between calls, so it is packed once
// (src/simd-kernels.ts, packLinearWeight) into panels of 8 output features: panel p holds
// W[8p + c, kk] at bp[p·k·8 + kk·8 + c], zero past n. One 4×8 register tile (8 accumulators, 2
// panel loads and 4 broadcasts per step of k) walks a panel down all rows: the panel (k·32 bytes)
// stays in L1 while a block of rows streams. Measured in Node 20, Node 24 and Chromium 156 against
// tfjs-backend-wasm 4.22's XNNPACK product on ViT-S/16 shapes (197×384 by 384×1536 etc.):
// 15-25% more GFLOP/s. Accumulators start from the bias, so it costs nothing.
#include "gelu-math.h"
#include "gemm.h"

// Stores 8 lanes of one output row, or its first `cols` (< 8) at the ragged last panel.
static inline void store_row(float *y, f4 lo, f4 hi, int cols) {
  if (cols >= 8) {
    wasm_v128_store(y, lo);
    wasm_v128_store(y + 4, hi);
    return;
  }
  // Lane by lane: a temporary array would live on the shadow stack, which instances sharing one
  // memory must not use.
  if (cols > 0) y[0] = wasm_f32x4_extract_lane(lo, 0);
  if (cols > 1) y[1] = wasm_f32x4_extract_lane(lo, 1);
  if (cols > 2) y[2] = wasm_f32x4_extract_lane(lo, 2);
  if (cols > 3) y[3] = wasm_f32x4_extract_lane(lo, 3);
  if (cols > 4) y[4] = wasm_f32x4_extract_lane(hi, 0);
  if (cols > 5) y[5] = wasm_f32x4_extract_lane(hi, 1);
  if (cols > 6) y[6] = wasm_f32x4_extract_lane(hi, 2);
}

// One 4×8 tile: the shared register tile of gemm.h (a panel is B with 8 columns, ldb 8), its
// accumulators starting from the bias.
// `gelu`: the output goes through exact GELU (gelu-math.h, the same function as gelu.c's kernel)
// before it is stored, so an MLP's first layer and its activation are one pass.
static inline void tile_4x8(const float *x, int k, const float *bp, const float *bias, float *y, int n, int cols, int gelu) {
  // Loops fully unrolled, so that acc stays in registers (an array in memory would be on the
  // shadow stack, which the instances on kernel threads share).
  f4 acc[8];
#pragma clang loop unroll(full)
  for (int r = 0; r < 4; r++) {
    acc[2 * r] = wasm_v128_load(bias);
    acc[2 * r + 1] = wasm_v128_load(bias + 4);
  }
  gemm_acc_4x8(x, k, 1, bp, 8, k, acc);
  if (gelu) {
#pragma clang loop unroll(full)
    for (int i = 0; i < 8; i++) acc[i] = GELU(acc[i]);
  }
#pragma clang loop unroll(full)
  for (int r = 0; r < 4; r++) store_row(y + r * n, acc[2 * r], acc[2 * r + 1], cols);
}

static inline void tile_1x8(const float *x, int k, const float *bp, const float *bias, float *y, int cols, int gelu) {
  f4 c0 = wasm_v128_load(bias), c1 = wasm_v128_load(bias + 4);
  for (int kk = 0; kk < k; kk++) {
    f4 a = wasm_v128_load32_splat(x + kk);
    GEMM_MAD(c0, a, wasm_v128_load(bp + kk * 8));
    GEMM_MAD(c1, a, wasm_v128_load(bp + kk * 8 + 4));
  }
  if (gelu) c0 = GELU(c0), c1 = GELU(c1);
  store_row(y, c0, c1, cols);
}

// Output panels [p0, p1) of y [m × n]; bias holds ceil(n/8)·8 floats (zero-padded). Rows go in
// blocks of about 256 KB of x, so that a block stays in L2 while the panels pass over it (at 1650
// rows, one panel at a time over all rows re-read 2.5 MB of x per panel from L3).
__attribute__((export_name("linear_fwd"))) void linear_fwd(const float *x, const float *bp, const float *bias, float *y, int m, int n, int k,
                                                            int p0, int p1, int gelu) {
  int block = (65536 / k) & ~3;
  if (block < 4) block = 4;
  for (int i0 = 0; i0 < m; i0 += block) {
    int i1 = i0 + block < m ? i0 + block : m;
    int i4 = i0 + ((i1 - i0) & ~3);
    for (int p = p0; p < p1; p++) {
      const float *panel = bp + (long)p * k * 8;
      int cols = n - 8 * p;
      for (int i = i0; i < i4; i += 4) tile_4x8(x + (long)i * k, k, panel, bias + 8 * p, y + (long)i * n + 8 * p, n, cols, gelu);
      for (int i = i4; i < i1; i++) tile_1x8(x + (long)i * k, k, panel, bias + 8 * p, y + (long)i * n + 8 * p, cols, gelu);
    }
  }
}

// The same panels from B [k × n] row-major (a product's right operand, not a weight to transpose):
// panel p holds B[kk, 8p + c] at bp[p·k·8 + kk·8 + c], zero past n. Each step copies 8 contiguous
// floats, so packing costs one pass over B (src/simd-kernels.ts, matMulSimd, packs per call).
__attribute__((export_name("pack_cols"))) void pack_cols(const float *b, float *bp, int k, int n) {
  int n8 = n & ~7;
  for (int j = 0; j < n8; j += 8) {
    float *panel = bp + (long)j * k;
    for (int kk = 0; kk < k; kk++) {
      wasm_v128_store(panel + 8 * kk, wasm_v128_load(b + (long)kk * n + j));
      wasm_v128_store(panel + 8 * kk + 4, wasm_v128_load(b + (long)kk * n + j + 4));
    }
  }
  if (n8 < n) {
    float *panel = bp + (long)n8 * k;
    for (int kk = 0; kk < k; kk++)
      for (int c = 0; c < 8; c++) panel[8 * kk + c] = n8 + c < n ? b[(long)kk * n + n8 + c] : 0.0f;
  }
}
