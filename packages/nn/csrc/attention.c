// The attention core softmax(q kᵀ · scale) v of the official `Attention`, forward and backward,
// over a run of (batch·head) slices, for tfjs-backend-wasm (src/simd-kernels.ts,
// src/ops/attention.ts). One call does the slice's two (forward) or four (backward) products
// (gemm.h), the softmax and the transposes in L2, instead of ~10 tfjs kernels per slice.
//
//   forward:  p = softmax(q kᵀ · scale), out = p v                       (p is kept for backward)
//   backward: dv = pᵀ dout, ds = p ⊙ (dout vᵀ − rowsum(·)) · scale, dq = ds k, dk = dsᵀ q
//
// Slice shapes: q [nq × d], k [nk × d], v [nk × e], p [nq × nk], out [nq × e]; slices are contiguous.
// `scratch` is this call's own: d·nk floats forward, e·nk + nq·nk backward (threads get separate ones).
#include "gemm.h"

void scaled_softmax(const float *s, float *p, int rows, int cols, float scale);
void softmax_grad(const float *p, const float *dp, float *ds, int rows, int cols, float scale);
void transpose_rows(const float *src, float *dst, int rows, int cols, int r0, int r1);

__attribute__((export_name("attention_fwd"))) void attention_fwd(const float *q, const float *k, const float *v, float *out, float *p,
                                                                   float *scratch, int slices, int nq, int nk, int d, int e, float scale) {
  float *kt = scratch;
  for (int s = 0; s < slices; s++) {
    const float *qs = q + s * nq * d, *ks = k + s * nk * d, *vs = v + s * nk * e;
    float *ps = p + s * nq * nk, *os = out + s * nq * e;
    transpose_rows(ks, kt, nk, d, 0, nk);
    gemm(qs, d, 1, kt, nk, ps, nk, nq, nk, d);
    scaled_softmax(ps, ps, nq, nk, scale);
    gemm(ps, nk, 1, vs, e, os, e, nq, e, nk);
  }
}

__attribute__((export_name("attention_bwd"))) void attention_bwd(const float *q, const float *k, const float *v, const float *p,
                                                                   const float *dout, float *dq, float *dk, float *dv, float *scratch,
                                                                   int slices, int nq, int nk, int d, int e, float scale) {
  float *vt = scratch, *ds = scratch + e * nk;
  for (int s = 0; s < slices; s++) {
    const float *qs = q + s * nq * d, *ks = k + s * nk * d, *vs = v + s * nk * e;
    const float *ps = p + s * nq * nk, *dos = dout + s * nq * e;
    float *dqs = dq + s * nq * d, *dks = dk + s * nk * d, *dvs = dv + s * nk * e;
    gemm(ps, 1, nk, dos, e, dvs, e, nk, e, nq);
    transpose_rows(vs, vt, nk, e, 0, nk);
    gemm(dos, e, 1, vt, nk, ds, nk, nq, nk, e);
    softmax_grad(ps, ds, ds, nq, nk, scale);
    gemm(ds, nk, 1, ks, d, dqs, d, nq, d, nk);
    gemm(ds, 1, nk, qs, d, dks, d, nk, d, nq);
  }
}
