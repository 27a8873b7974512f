// The attention core softmax(q kᵀ · scale + bias) v — the official ViT `Attention` (no bias) and
// Swin `WindowAttention` (relative position bias and shift mask) — forward and backward over a run
// of (batch·head) slices, for tfjs-backend-wasm (src/simd-kernels.ts, src/ops/attention.ts). One
// call does the slice's two (forward) or four (backward) products (gemm.h), the softmax and the
// transposes in L2, instead of ~10 tfjs kernels per slice (or, for batched products, tfjs-wasm's
// scalar fallback loop).
//
//   forward:  p = softmax(q kᵀ · scale + bias[g]), out = p v            (p is kept for backward)
//   backward: dv = pᵀ dout, dz = p ⊙ (dout vᵀ − rowsum(·)), dbias[g] += dz,
//             ds = dz · scale, dq = ds k, dk = dsᵀ q
//
// Slice shapes: q [nq × d], k [nk × d], v [nk × e], p [nq × nk], out [nq × e]; slices are
// contiguous. Slice `first + s` uses bias group g = (first + s) mod groups; groups = 0: no bias.
// `scratch` is this call's own (threads get separate ones): d·nk floats forward, + nq·nk when p is
// not kept (keep_p = 0: inference, where p of every slice at once would double the heap at high
// resolution); e·nk + nq·nk backward, plus groups·nq·nk for this call's partial dbias, which the
// caller sums.
#include "gemm.h"

void scaled_softmax(const float *s, float *p, int rows, int cols, float scale);
void softmax_grad(const float *p, const float *dp, float *ds, int rows, int cols, float scale);
void transpose_rows(const float *src, float *dst, int rows, int cols, int r0, int r1);

// x = x·scale + b over n floats (any n).
static void scale_add(float *x, const float *b, int n, float scale) {
  f4 k = splat(scale);
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(x + i, fma4(wasm_v128_load(x + i), k, wasm_v128_load(b + i)));
  for (; i < n; i++) x[i] = x[i] * scale + b[i];
}

// x = x·scale over n floats.
static void scale_by(float *x, int n, float scale) {
  f4 k = splat(scale);
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(x + i, wasm_f32x4_mul(wasm_v128_load(x + i), k));
  for (; i < n; i++) x[i] *= scale;
}

__attribute__((export_name("attention_fwd"))) void attention_fwd(const float *q, const float *k, const float *v, const float *bias,
                                                                   float *out, float *p, int keep_p, float *scratch, int first,
                                                                   int slices, int groups, int nq, int nk, int d, int e, float scale) {
  float *kt = scratch;
  for (int s = 0; s < slices; s++) {
    const float *qs = q + s * nq * d, *ks = k + s * nk * d, *vs = v + s * nk * e;
    float *ps = keep_p ? p + s * nq * nk : scratch + d * nk, *os = out + s * nq * e;
    transpose_rows(ks, kt, nk, d, 0, nk);
    gemm(qs, d, 1, kt, nk, ps, nk, nq, nk, d);
    if (groups > 0) {
      scale_add(ps, bias + ((first + s) % groups) * nq * nk, nq * nk, scale);
      scaled_softmax(ps, ps, nq, nk, 1.0f);
    } else {
      scaled_softmax(ps, ps, nq, nk, scale);
    }
    gemm(ps, nk, 1, vs, e, os, e, nq, e, nk);
  }
}

__attribute__((export_name("attention_bwd"))) void attention_bwd(const float *q, const float *k, const float *v, const float *p,
                                                                   const float *dout, float *dq, float *dk, float *dv, float *scratch,
                                                                   int first, int slices, int groups, int nq, int nk, int d, int e,
                                                                   float scale) {
  float *vt = scratch, *ds = scratch + e * nk, *dbias = ds + nq * nk;
  int nn = nq * nk;
  for (int i = 0; i < groups * nn; i++) dbias[i] = 0.0f;
  for (int s = 0; s < slices; s++) {
    const float *qs = q + s * nq * d, *ks = k + s * nk * d, *vs = v + s * nk * e;
    const float *ps = p + s * nn, *dos = dout + s * nq * e;
    float *dqs = dq + s * nq * d, *dks = dk + s * nk * d, *dvs = dv + s * nk * e;
    gemm(ps, 1, nk, dos, e, dvs, e, nk, e, nq);
    transpose_rows(vs, vt, nk, e, 0, nk);
    gemm(dos, e, 1, vt, nk, ds, nk, nq, nk, e);
    if (groups > 0) {
      float *db = dbias + ((first + s) % groups) * nn;
      softmax_grad(ps, ds, ds, nq, nk, 1.0f);
      scale_add(db, ds, nn, 1.0f);
      if (scale != 1.0f) scale_by(ds, nn, scale);
    } else {
      softmax_grad(ps, ds, ds, nq, nk, scale);
    }
    gemm(ds, nk, 1, ks, d, dqs, d, nq, d, nk);
    gemm(ds, 1, nk, qs, d, dks, d, nk, d, nq);
  }
}

// Inference straight from the fused projection: qkv [batches, n, 3, heads, d] (the official
// `Attention`'s `qkv(x)` before its reshape/permute), out [batches, n, heads, d] (what `proj`
// takes). Reading q, k, v and writing out through row strides saves the 5-D permute, the split and
// the output permute (three copies of the activations per block). Slices `first ..` of this call
// are (batch, head) pairs, batch-major. scratch: 2·d·n + min(rows, n)·n floats.
//
// Query rows go in blocks of `rows`: a block's scores (rows × n) stay in L2 from the first product
// through the softmax to the second, where whole n × n scores (10 MB per head at DAVIS's 480p,
// 1 591 tokens) went through memory three times. kᵀ and v are packed once per slice into panels of
// 8 columns (gemm_packed), so every block streams them contiguously. Each output is the same
// sequence of float operations as without blocks or panels, so results are unchanged.
__attribute__((export_name("attention_qkv_fwd"))) void attention_qkv_fwd(const float *qkv, float *out, float *scratch, int first, int slices,
                                                                           int heads, int n, int d, int rows, float scale) {
  int c = heads * d, row = 3 * c, n8 = n & ~7, d8 = d & ~7;
  float *kp = scratch, *vp = scratch + d * n, *ps = scratch + 2 * d * n;
  for (int s = first; s < first + slices; s++) {
    int b = s / heads, h = s % heads;
    const float *q = qkv + (long)b * n * row + h * d, *k = q + c, *v = q + 2 * c;
    float *o = out + (long)b * n * c + h * d;
    pack_panels_t(k, row, kp, d, n8);
    pack_panels(v, row, vp, n, d8);
    for (int i0 = 0; i0 < n; i0 += rows) {
      int r = n - i0 < rows ? n - i0 : rows;
      const float *qi = q + (long)i0 * row;
      gemm_packed(qi, row, 1, kp, ps, n, r, n8, d);
      // Key columns past the last panel: B = kᵀ there is k's rows read along d.
      if (n8 < n) gemm_edge_t(qi, row, k, row, ps, n, r, n8, n, d);
      scaled_softmax(ps, ps, r, n, scale);
      gemm_packed(ps, n, 1, vp, o + (long)i0 * c, c, r, d8, n);
      if (d8 < d) gemm_edge(ps, n, 1, v, row, o + (long)i0 * c, c, 0, r, d8, d, n);
    }
  }
}
