// Small dense products C = A·B in SIMD128, for the attention kernels (attention.c): per (batch·head)
// slice they are ~200×200×64, where XNNPACK through tfjs pays a call, a weight packing and a
// thread-pool hand-off per product (measured ~20 GFLOP/s on 2 threads against ~50 on large ones).
// Here one 4×8 register tile (8 accumulators, 2 loads and 4 broadcasts per step of k) reaches
// 25–34 GFLOP/s on one thread at those sizes; threads then take whole slices.
//
// A is read through strides (element (i, k) at a[i*rs + k*cs]), so Aᵀ·B costs the same as A·B;
// B and C are row-major. No packing: every operand of a slice fits in L2.
#pragma once
#include "simd-math.h"

#define GEMM_LOAD_SPLAT(p) wasm_v128_load32_splat(p)
#define GEMM_MAD(acc, a, b) acc = fma4(a, b, acc)

// acc += A[4 × k_len]·B[k_len × 8] for the 4 rows at a and 8 columns at b; row r's two vectors
// are acc[2r], acc[2r + 1]. Inlined, the array lives in registers (no shadow stack).
static inline void gemm_acc_4x8(const float *a, int rs, int cs, const float *b, int ldb, int k_len, f4 acc[8]) {
  f4 c00 = acc[0], c01 = acc[1], c10 = acc[2], c11 = acc[3], c20 = acc[4], c21 = acc[5], c30 = acc[6], c31 = acc[7];
  for (int k = 0; k < k_len; k++) {
    f4 b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4);
    f4 a0 = GEMM_LOAD_SPLAT(a), a1 = GEMM_LOAD_SPLAT(a + rs), a2 = GEMM_LOAD_SPLAT(a + 2 * rs), a3 = GEMM_LOAD_SPLAT(a + 3 * rs);
    GEMM_MAD(c00, a0, b0);
    GEMM_MAD(c01, a0, b1);
    GEMM_MAD(c10, a1, b0);
    GEMM_MAD(c11, a1, b1);
    GEMM_MAD(c20, a2, b0);
    GEMM_MAD(c21, a2, b1);
    GEMM_MAD(c30, a3, b0);
    GEMM_MAD(c31, a3, b1);
    a += cs;
    b += ldb;
  }
  acc[0] = c00, acc[1] = c01, acc[2] = c10, acc[3] = c11, acc[4] = c20, acc[5] = c21, acc[6] = c30, acc[7] = c31;
}

// C[4 × 8] = Σ_k A[i, k] B[k, j] for the 4 rows and 8 columns at a, b, c.
static inline void gemm_tile_4x8(const float *a, int rs, int cs, const float *b, int ldb, float *c, int ldc, int k_len) {
  f4 acc[8];
  for (int i = 0; i < 8; i++) acc[i] = splat(0.0f);
  gemm_acc_4x8(a, rs, cs, b, ldb, k_len, acc);
  for (int r = 0; r < 4; r++) {
    wasm_v128_store(c + r * ldc, acc[2 * r]);
    wasm_v128_store(c + r * ldc + 4, acc[2 * r + 1]);
  }
}

// The ragged edges, rows [i0, i1) × columns [j0, j1): one row at a time, 4 columns a vector.
static void gemm_edge(const float *a, int rs, int cs, const float *b, int ldb, float *c, int ldc, int i0, int i1, int j0, int j1,
                      int k_len) {
  for (int i = i0; i < i1; i++) {
    const float *ai = a + i * rs;
    int j = j0;
    for (; j + 4 <= j1; j += 4) {
      f4 acc = splat(0.0f);
      for (int k = 0; k < k_len; k++) GEMM_MAD(acc, GEMM_LOAD_SPLAT(ai + k * cs), wasm_v128_load(b + k * ldb + j));
      wasm_v128_store(c + i * ldc + j, acc);
    }
    for (; j < j1; j++) {
      float s = 0.0f;
      for (int k = 0; k < k_len; k++) s += ai[k * cs] * b[k * ldb + j];
      c[i * ldc + j] = s;
    }
  }
}

// C[m × n] = A[m × k_len]·B[k_len × n]; A element (i, k) at a[i*rs + k*cs], B and C row-major.
static void gemm(const float *a, int rs, int cs, const float *b, int ldb, float *c, int ldc, int m, int n, int k_len) {
  int m4 = m & ~3, n8 = n & ~7;
  for (int j = 0; j < n8; j += 8)
    for (int i = 0; i < m4; i += 4) gemm_tile_4x8(a + i * rs, rs, cs, b + j, ldb, c + i * ldc + j, ldc, k_len);
  if (n8 < n) gemm_edge(a, rs, cs, b, ldb, c, ldc, 0, m4, n8, n, k_len);
  if (m4 < m) gemm_edge(a, rs, cs, b, ldb, c, ldc, m4, m, 0, n, k_len);
}

// Packed B: its first n8 columns (a multiple of 8) as panels of 8, panel p = B[:, 8p..8p+8) stored
// k-major at bp + p·k_len·8, so a product's inner loop reads 32 contiguous bytes a step however
// B was laid out. B row-major at (b, ldb) [k_len × ·]:
static void pack_panels(const float *b, int ldb, float *bp, int k_len, int n8) {
  for (int j = 0; j < n8; j += 8)
    for (int k = 0; k < k_len; k++) wasm_v128_store(bp + (long)j * k_len + 8 * k, wasm_v128_load(b + (long)k * ldb + j)),
                                    wasm_v128_store(bp + (long)j * k_len + 8 * k + 4, wasm_v128_load(b + (long)k * ldb + j + 4));
}

// The same panels of B = Xᵀ for X row-major at (x, ldx) [· × k_len] (B's column j is X's row j).
static void pack_panels_t(const float *x, int ldx, float *bp, int k_len, int n8) {
  for (int j = 0; j < n8; j += 8)
    for (int jj = 0; jj < 8; jj++)
      for (int k = 0; k < k_len; k++) bp[(long)j * k_len + 8 * k + jj] = x[(long)(j + jj) * ldx + k];
}

// C[m × n8] = A·B with B in panels (pack_panels); A as in gemm.
static void gemm_packed(const float *a, int rs, int cs, const float *bp, float *c, int ldc, int m, int n8, int k_len) {
  int m4 = m & ~3;
  for (int j = 0; j < n8; j += 8) {
    const float *panel = bp + (long)j * k_len;
    for (int i = 0; i < m4; i += 4) gemm_tile_4x8(a + i * rs, rs, cs, panel, 8, c + i * ldc + j, ldc, k_len);
    if (m4 < m) gemm_edge(a, rs, cs, panel, 8, c + j, ldc, m4, m, 0, 8, k_len);
  }
}

// C[:m, j0..j1) = A·Xᵀ for X row-major at (x, ldx): columns left over after the panels, one dot
// product each (A row-major at (a, lda)), in gemm's order of operations.
static void gemm_edge_t(const float *a, int lda, const float *x, int ldx, float *c, int ldc, int m, int j0, int j1, int k_len) {
  for (int i = 0; i < m; i++)
    for (int j = j0; j < j1; j++) {
      float s = 0.0f;
      for (int k = 0; k < k_len; k++) s += a[(long)i * lda + k] * x[(long)j * ldx + k];
      c[(long)i * ldc + j] = s;
    }
}
