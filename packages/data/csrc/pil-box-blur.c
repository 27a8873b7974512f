// Pillow's box blur pass (BoxBlur.c, ImagingLineBoxBlur32) for 8-bit RGB: the fractional-radius
// box with 24-bit fixed-point weights, edge pixels repeated, bulk sums in UINT32 as the C does, so
// results are bit-exact with PIL. Pillow blurs columns as rows of the transposed image; here the
// column pass (box_blur_cols) walks down all columns at once, 16 bytes per SIMD step: every column
// sees the same integer sums, so the result is the same and the two transposes are gone.
#include <wasm_simd128.h>

typedef unsigned char u8;

// Pillow's weights for a fractional radius: ww for the 2·radius + 1 whole taps, fw for the two
// partial ones, both in 24-bit fixed point.
static inline unsigned box_ww(float floatRadius) { return (unsigned)((float)(1 << 24) / (floatRadius * 2 + 1)); }
static inline unsigned box_fw(float floatRadius, unsigned ww) { return ((1u << 24) - (unsigned)((int)floatRadius * 2 + 1) * ww) / 2; }

// One pass over every row of `buf` (height rows of width RGB pixels), in place; `line` holds one
// row (width · 3 bytes).
__attribute__((export_name("box_blur_rows"))) void box_blur_rows(u8 *buf, int width, int height, float floatRadius, u8 *line) {
  const int radius = (int)floatRadius;
  const unsigned ww = box_ww(floatRadius);
  const unsigned fw = box_fw(floatRadius, ww);
  const int lastx = width - 1;
  const int edgeA = radius + 1 < width ? radius + 1 : width;
  const int last = lastx * 3;
  const int stride = width * 3;
  for (int y = 0; y < height; y++) {
    u8 *row = buf + (long)y * stride;
    __builtin_memcpy(line, row, stride);
    // The accumulator for pixel -1: the first pixel radius + 1 times, pixels 0..radius-1, and the
    // last pixel for whatever of that window lies past the end.
    unsigned a0 = line[0] * (unsigned)(radius + 1), a1 = line[1] * (unsigned)(radius + 1), a2 = line[2] * (unsigned)(radius + 1);
    for (int x = 0; x < edgeA - 1; x++) {
      a0 += line[3 * x];
      a1 += line[3 * x + 1];
      a2 += line[3 * x + 2];
    }
    const unsigned tail = (unsigned)(radius - edgeA + 1);
    a0 += line[last] * tail;
    a1 += line[last + 1] * tail;
    a2 += line[last + 2] * tail;
    // Pillow's three edge regions in one loop: the clamped indices are the ones each region uses.
    for (int x = 0; x <= lastx; x++) {
      const int add = (x + radius < lastx ? x + radius : lastx) * 3;
      const int sub = (x > radius ? x - radius - 1 : 0) * 3;
      const int far = (x + radius + 1 < lastx ? x + radius + 1 : lastx) * 3;
      a0 += line[add] - line[sub];
      a1 += line[add + 1] - line[sub + 1];
      a2 += line[add + 2] - line[sub + 2];
      u8 *o = row + 3 * x;
      o[0] = (u8)((a0 * ww + (line[sub] + line[far]) * fw + (1u << 23)) >> 24);
      o[1] = (u8)((a1 * ww + (line[sub + 1] + line[far + 1]) * fw + (1u << 23)) >> 24);
      o[2] = (u8)((a2 * ww + (line[sub + 2] + line[far + 2]) * fw + (1u << 23)) >> 24);
    }
  }
}

static inline int imin(int a, int b) { return a < b ? a : b; }

// One pass down every column: out (height rows of `stride` bytes) from in, the per-line algorithm
// of box_blur_rows with lines running down the rows. Sums are u32 and wrap as the scalar code's do.
__attribute__((export_name("box_blur_cols"))) void box_blur_cols(const u8 *in, int stride, int height, float floatRadius, u8 *out) {
  const int radius = (int)floatRadius;
  const unsigned ww = box_ww(floatRadius);
  const unsigned fw = box_fw(floatRadius, ww);
  const int lastx = height - 1;
  const int edgeA = radius + 1 < height ? radius + 1 : height;
  const unsigned tail = (unsigned)(radius - edgeA + 1);
  const v128_t vww = wasm_i32x4_splat((int)ww), vfw = wasm_i32x4_splat((int)fw), vhalf = wasm_i32x4_splat(1 << 23);
  const v128_t vfirst = wasm_i32x4_splat(radius + 1), vtail = wasm_i32x4_splat((int)tail);
  int j = 0;
  for (; j + 16 <= stride; j += 16) {
    // Sixteen byte lanes as four u32x4 accumulators.
#define WIDEN(px, a0, a1, a2, a3)                                   \
  const v128_t lo_##px = wasm_u16x8_extend_low_u8x16(px);           \
  const v128_t hi_##px = wasm_u16x8_extend_high_u8x16(px);          \
  const v128_t a0 = wasm_u32x4_extend_low_u16x8(lo_##px);           \
  const v128_t a1 = wasm_u32x4_extend_high_u16x8(lo_##px);          \
  const v128_t a2 = wasm_u32x4_extend_low_u16x8(hi_##px);           \
  const v128_t a3 = wasm_u32x4_extend_high_u16x8(hi_##px);
    const u8 *col = in + j;
    const v128_t p0 = wasm_v128_load(col);
    WIDEN(p0, f0, f1, f2, f3)
    v128_t s0 = wasm_i32x4_mul(f0, vfirst), s1 = wasm_i32x4_mul(f1, vfirst), s2 = wasm_i32x4_mul(f2, vfirst), s3 = wasm_i32x4_mul(f3, vfirst);
    for (int x = 0; x < edgeA - 1; x++) {
      const v128_t px = wasm_v128_load(col + (long)x * stride);
      WIDEN(px, e0, e1, e2, e3)
      s0 = wasm_i32x4_add(s0, e0); s1 = wasm_i32x4_add(s1, e1); s2 = wasm_i32x4_add(s2, e2); s3 = wasm_i32x4_add(s3, e3);
    }
    {
      const v128_t pl = wasm_v128_load(col + (long)lastx * stride);
      WIDEN(pl, l0, l1, l2, l3)
      s0 = wasm_i32x4_add(s0, wasm_i32x4_mul(l0, vtail)); s1 = wasm_i32x4_add(s1, wasm_i32x4_mul(l1, vtail));
      s2 = wasm_i32x4_add(s2, wasm_i32x4_mul(l2, vtail)); s3 = wasm_i32x4_add(s3, wasm_i32x4_mul(l3, vtail));
    }
    for (int x = 0; x <= lastx; x++) {
      const v128_t pa = wasm_v128_load(col + (long)imin(x + radius, lastx) * stride);
      const v128_t ps = wasm_v128_load(col + (long)(x > radius ? x - radius - 1 : 0) * stride);
      const v128_t pf = wasm_v128_load(col + (long)imin(x + radius + 1, lastx) * stride);
      WIDEN(pa, a0, a1, a2, a3)
      WIDEN(ps, b0, b1, b2, b3)
      WIDEN(pf, c0, c1, c2, c3)
      s0 = wasm_i32x4_add(s0, wasm_i32x4_sub(a0, b0)); s1 = wasm_i32x4_add(s1, wasm_i32x4_sub(a1, b1));
      s2 = wasm_i32x4_add(s2, wasm_i32x4_sub(a2, b2)); s3 = wasm_i32x4_add(s3, wasm_i32x4_sub(a3, b3));
#define OUT(s, b, c) wasm_u32x4_shr(wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_mul(s, vww), wasm_i32x4_mul(wasm_i32x4_add(b, c), vfw)), vhalf), 24)
      // Each value is below 256 after the shift, so the saturating narrows are plain packs.
      const v128_t o01 = wasm_u16x8_narrow_i32x4(OUT(s0, b0, c0), OUT(s1, b1, c1));
      const v128_t o23 = wasm_u16x8_narrow_i32x4(OUT(s2, b2, c2), OUT(s3, b3, c3));
      wasm_v128_store(out + (long)x * stride + j, wasm_u8x16_narrow_i16x8(o01, o23));
#undef OUT
    }
#undef WIDEN
  }
  // The last stride % 16 bytes, one column at a time.
  for (; j < stride; j++) {
    const u8 *col = in + j;
    unsigned a = col[0] * (unsigned)(radius + 1);
    for (int x = 0; x < edgeA - 1; x++) a += col[(long)x * stride];
    a += col[(long)lastx * stride] * tail;
    for (int x = 0; x <= lastx; x++) {
      const unsigned add = col[(long)imin(x + radius, lastx) * stride];
      const unsigned sub = col[(long)(x > radius ? x - radius - 1 : 0) * stride];
      const unsigned far = col[(long)imin(x + radius + 1, lastx) * stride];
      a += add - sub;
      out[(long)x * stride + j] = (u8)((a * ww + (sub + far) * fw + (1u << 23)) >> 24);
    }
  }
}
