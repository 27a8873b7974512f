// GELU forward and backward for the native TensorFlow kernels (tf-kernels.c), on 16-lane vectors:
// one AVX-512 register each, or two AVX2 / four SSE registers, as the build's -march allows. With
// 4-lane vectors the erfc and exp chains ran at 5-6 ns per element, behind TensorFlow's own
// (AVX) composite; 16 lanes: forward 1.5, backward 2.2 ns per element (AVX-512 host,
// bench/results/tf-kernels.md). The math is ../csrc/gelu-math.h, lane-wise, so the values equal
// the wasm kernel's.
#define SP_LANES 16
#include <stdint.h>
#include <string.h>

#include "../csrc/gelu-math.h"
#include "parallel.h"

#define LANES SP_LANES
// Elements per thread below which a call is not split.
#define GRAIN (1 << 16)

// Any n: the tail goes through a zero-padded vector.
static void gelu_fwd_serial(const float *x, float *y, int64_t n) {
  int64_t i = 0;
  for (; i + 2 * LANES <= n; i += 2 * LANES) {
    f4 a = wasm_v128_load(x + i), b = wasm_v128_load(x + i + LANES);
    wasm_v128_store(y + i, GELU(a));
    wasm_v128_store(y + i + LANES, GELU(b));
  }
  for (; i < n; i += LANES) {
    float bx[LANES] = {0}, by[LANES];
    int64_t len = n - i < LANES ? n - i : LANES;
    memcpy(bx, x + i, (size_t)len * sizeof(float));
    wasm_v128_store(by, GELU(wasm_v128_load(bx)));
    memcpy(y + i, by, (size_t)len * sizeof(float));
  }
}

static void gelu_bwd_serial(const float *dy, const float *x, float *dx, int64_t n) {
  int64_t i = 0;
  for (; i + 2 * LANES <= n; i += 2 * LANES) {
    f4 d0 = wasm_v128_load(dy + i), d1 = wasm_v128_load(dy + i + LANES);
    f4 v0 = wasm_v128_load(x + i), v1 = wasm_v128_load(x + i + LANES);
    wasm_v128_store(dx + i, gelu_grad4(d0, v0));
    wasm_v128_store(dx + i + LANES, gelu_grad4(d1, v1));
  }
  for (; i < n; i += LANES) {
    float bd[LANES] = {0}, bx[LANES] = {0}, bo[LANES];
    int64_t len = n - i < LANES ? n - i : LANES;
    memcpy(bd, dy + i, (size_t)len * sizeof(float));
    memcpy(bx, x + i, (size_t)len * sizeof(float));
    wasm_v128_store(bo, gelu_grad4(wasm_v128_load(bd), wasm_v128_load(bx)));
    memcpy(dx + i, bo, (size_t)len * sizeof(float));
  }
}

typedef struct {
  const float *dy, *x;
  float *out;
} GeluArgs;

static void fwd_part(void *ctx, int64_t b, int64_t e) {
  GeluArgs *a = (GeluArgs *)ctx;
  gelu_fwd_serial(a->x + b, a->out + b, e - b);
}

static void bwd_part(void *ctx, int64_t b, int64_t e) {
  GeluArgs *a = (GeluArgs *)ctx;
  gelu_bwd_serial(a->dy + b, a->x + b, a->out + b, e - b);
}

__attribute__((visibility("hidden"))) void sp_gelu_fwd(const float *x, float *y, int64_t n) {
  GeluArgs a = {NULL, x, y};
  sp_parallel(n, GRAIN, 2 * LANES, fwd_part, &a);
}

__attribute__((visibility("hidden"))) void sp_gelu_bwd(const float *dy, const float *x, float *dx, int64_t n) {
  GeluArgs a = {dy, x, dx};
  sp_parallel(n, GRAIN, 2 * LANES, bwd_part, &a);
}
