// DAVIS label propagation (SelfPatch / DINO `eval_video_segmentation.py`, `label_propagation`)
// for tfjs-backend-wasm, computing only the affinities the neighbourhood mask keeps
// (src/simd-kernels.ts, neighborhoodPropagationSimd):
//
//   A[q, s] = exp(⟨t[q], f[s]⟩ / τ) · M[q, s],  M = 1 when s lies within `radius` grid cells of q
//   per query q: keep A[q, s] ≥ its top-k-th value over all n·hw sources, divide by their sum,
//   out[·, q] = Σ_s segs[·, s] · A[q, s]
//
// The reference builds the dense [n·hw × hw] affinity (1 560 queries × 12 480 sources at 480p with
// 7 + 1 contexts), masks it and takes a top-k along its long axis. Outside the window A is 0, and
// every query has at least one source per context inside it (its own position) whose exp is > 0,
// so those zeros can only be kept when the window holds fewer than k sources (or exp underflows);
// then every window entry is kept, as the reference's zeros at the k-th place imply. So only the
// window's dot products are needed: (2r+1)² of h·w sources per context, about 30% at r = 12 on the
// 30 × 52 grid, and none of the ~20 M-entry passes (exp, mask, top-k, threshold, normalise,
// transpose) of the dense form.
//
// Dots come from gemm.h's 4×8 tile, the same sequence of operations as the products of the dense
// form on this backend (linear.c's tile), and exp from exp4 after an IEEE division by τ, as the
// dense form's Div and Exp kernels, so the kept set is the same; only the order of the final sums
// differs.
#include "gemm.h"

static inline int imin(int a, int b) { return a < b ? a : b; }
static inline int imax(int a, int b) { return a > b ? a : b; }

// Sources f [c × ctx·h·w] (context-major columns) repacked so that each (context, grid row) is
// ceil(w/8) panels of 8 columns, panel element (kk, j) at kk·8 + j, zero past w: a window is then
// whole panels read contiguously. Units u = context·h + grid row, [u0, u1) per call. Sets
// *nan_flag to 1 when a source value is NaN (the whole mask is NaN then, see below): the pass reads
// every value anyway, so the check costs nothing here.
__attribute__((export_name("pack_grid_panels"))) void pack_grid_panels(const float *fs, float *fsp, int c, int ctx, int h, int w, int u0,
                                                                         int u1, int *nan_flag) {
  long hw = (long)h * w, ld = ctx * hw;
  int panels = (w + 7) / 8, nan = 0;
  v128_t bad = wasm_i32x4_splat(0);
  for (int u = u0; u < u1; u++) {
    const float *src = fs + (u / h) * hw + (long)(u % h) * w;
    for (int p = 0; p < panels; p++) {
      float *dst = fsp + ((long)u * panels + p) * c * 8;
      int col0 = p * 8;
      if (col0 + 8 <= w) {
        for (int kk = 0; kk < c; kk++) {
          f4 lo = wasm_v128_load(src + kk * ld + col0), hi = wasm_v128_load(src + kk * ld + col0 + 4);
          bad = wasm_v128_or(bad, wasm_v128_or(wasm_f32x4_ne(lo, lo), wasm_f32x4_ne(hi, hi)));
          wasm_v128_store(dst + 8 * kk, lo);
          wasm_v128_store(dst + 8 * kk + 4, hi);
        }
      } else {
        for (int kk = 0; kk < c; kk++)
          for (int j = 0; j < 8; j++) {
            float v = col0 + j < w ? src[kk * ld + col0 + j] : 0.0f;
            nan |= v != v;
            dst[8 * kk + j] = v;
          }
      }
    }
  }
  if (nan || wasm_v128_any_true(bad)) *nan_flag = 1;
}

// Inserts v into top[0..*count), kept descending, at most k long.
static inline void top_insert(float *top, int *count, int k, float v) {
  int i;
  if (*count < k)
    i = (*count)++;
  else if (v > top[k - 1])
    i = k - 1;
  else
    return;
  while (i > 0 && top[i - 1] < v) {
    top[i] = top[i - 1];
    i--;
  }
  top[i] = v;
}

// Query grid rows [r0, r1). t [h·w × c] (rows = queries), fsp from pack_grid_panels, segs
// [k_cls × ctx·h·w], out [k_cls × h·w]. radius ≥ 1 (the caller passes max(h, w) for "no mask").
// scratch: 4·c + (4·⌈w/4⌉ + 2)·W + topk floats, W = ctx · min(h, 2r+1) · 8·min(⌈w/8⌉, ⌊(2r+3)/8⌋ + 2),
// the window values of every query of one grid row.
//
// Loop order: per query row, each (context, source row)'s panels (⌈w/8⌉ · c · 32 bytes, 84 KB at
// C = 384) serve every 4-query block of the row while they are in cache. Blocks outermost instead
// streamed ~10 MB of panels per block from memory (measured 227 → 208 ms for 8 contexts at 480p).
__attribute__((export_name("neighborhood_propagate"))) void neighborhood_propagate(const float *t, const float *fsp, const float *segs,
                                                                                     float *out, float *scratch, int h, int w, int ctx,
                                                                                     int c, int k_cls, int radius, int topk, float tau,
                                                                                     int r0, int r1) {
  int hw = h * w, panels = (w + 7) / 8, r = radius, blocks = (w + 3) / 4;
  int rspan = imin(h, 2 * r + 1), cspan = 8 * imin(panels, (2 * r + 3) / 8 + 2);
  int per_q = ctx * rspan * cspan;
  float *a = scratch, *e = a + 4 * c, *kept_v = e + (long)4 * blocks * per_q, *top = kept_v + per_q;
  int *kept_s = (int *)(top + topk);
  f4 vtau = splat(tau);
  for (int qr = r0; qr < r1; qr++) {
    int sr0 = imax(0, qr - r), sr1 = imin(h - 1, qr + r);
    const float *row_t = t + (long)qr * w * c;
    // A short last block: its rows copied, the missing ones zero (their results are not read).
    int tail = w - 4 * (blocks - 1);
    if (tail < 4)
      for (int i = 0; i < 4 * c; i++) a[i] = i < tail * c ? row_t[(long)4 * (blocks - 1) * c + i] : 0.0f;
    for (int ci = 0; ci < ctx; ci++)
      for (int sr = sr0; sr <= sr1; sr++) {
        const float *src_row = fsp + (long)(ci * h + sr) * panels * c * 8;
        for (int b = 0; b < blocks; b++) {
          int qc = 4 * b;
          const float *arows = tail < 4 && b == blocks - 1 ? a : row_t + (long)qc * c;
          int p0 = imax(0, qc - r) / 8, p1 = imin(w - 1, qc + 3 + r) / 8;
          float *eb = e + (long)4 * b * per_q + (ci * rspan + (sr - sr0)) * cspan;
          for (int p = p0; p <= p1; p++) {
            // Fully unrolled, so that acc stays in registers: an array in memory would live on the
            // shadow stack, which the instances on kernel threads share (one memory, one stack).
            f4 acc[8];
#pragma clang loop unroll(full)
            for (int i = 0; i < 8; i++) acc[i] = splat(0.0f);
            gemm_acc_4x8(arows, c, 1, src_row + (long)p * c * 8, 8, c, acc);
            float *ej = eb + (p - p0) * 8;
#pragma clang loop unroll(full)
            for (int j = 0; j < 4; j++, ej += per_q) {
              wasm_v128_store(ej, exp4(wasm_f32x4_div(acc[2 * j], vtau)));
              wasm_v128_store(ej + 4, exp4(wasm_f32x4_div(acc[2 * j + 1], vtau)));
            }
          }
        }
      }
    for (int qc = 0; qc < w; qc++) {
      // This query's window values, row (ci, sr) starting at its block's first panel p0.
      const float *ej = e + (long)qc * per_q;
      int p0 = imax(0, (qc & ~3) - r) / 8, c0 = imax(0, qc - r), c1 = imin(w - 1, qc + r);
      int count = 0, nan = 0;
      for (int ci = 0; ci < ctx; ci++)
        for (int sr = sr0; sr <= sr1; sr++) {
          const float *row = ej + (ci * rspan + (sr - sr0)) * cspan - p0 * 8;
          for (int sc = c0; sc <= c1; sc++) {
            float v = row[sc];
            nan |= v != v;
            top_insert(top, &count, topk, v);
          }
        }
      // Fewer than k window sources: the reference's k-th value is one of its zeros, so it keeps
      // every source (the zeros add nothing).
      float kth = count < topk ? 0.0f : top[topk - 1];
      int nk = 0;
      float z = 0.0f;
      for (int ci = 0; ci < ctx; ci++)
        for (int sr = sr0; sr <= sr1; sr++) {
          const float *row = ej + (ci * rspan + (sr - sr0)) * cspan - p0 * 8;
          for (int sc = c0; sc <= c1; sc++) {
            float v = row[sc];
            if (v >= kth) {
              kept_v[nk] = v;
              kept_s[nk++] = ci * hw + sr * w + sc;
              z += v;
            }
          }
        }
      int q = qr * w + qc;
      for (int cls = 0; cls < k_cls; cls++) {
        const float *sg = segs + (long)cls * ctx * hw;
        float s = 0.0f;
        for (int i = 0; i < nk; i++) s += sg[kept_s[i]] * (kept_v[i] / z);
        // A NaN in the window (a NaN target row; NaN sources are flagged by pack_grid_panels) makes
        // the dense form's column NaN: NaN out too, not a mask from whatever the comparisons kept.
        out[(long)cls * hw + q] = nan ? __builtin_nanf("") : s;
      }
    }
  }
}
