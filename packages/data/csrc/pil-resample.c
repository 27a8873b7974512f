// Pillow's 8-bit resampling passes (Resample.c, ImagingResampleVertical_8bpc) with SIMD: the same
// 22-bit fixed-point coefficients, the same int32 sums started at 1 << 21, the same clip to 8 bits,
// so results are bit-exact with PIL. Sixteen bytes of a row move through the taps together (four
// i32x4 accumulators). The horizontal pass runs as this vertical one on a transposed image
// (src/pil-resize.ts), which keeps both passes on contiguous 16-byte loads.
#include <wasm_simd128.h>

typedef unsigned char u8;

#define PRECISION_BITS (32 - 8 - 2)

static inline int clip8(int v) {
  int s = v >> PRECISION_BITS;
  return s < 0 ? 0 : s > 255 ? 255 : s;
}

// out (outRows × width bytes) from in (rows × width bytes): output row yy is the sum over
// bounds[2yy + 1] taps of input rows from bounds[2yy], weights kk[yy·ksize + t].
__attribute__((export_name("resample_rows"))) void resample_rows(const u8 *in, int width, u8 *out, int outRows, const int *bounds, const int *kk, int ksize) {
  const v128_t half = wasm_i32x4_splat(1 << (PRECISION_BITS - 1));
  for (int yy = 0; yy < outRows; yy++) {
    const int ymin = bounds[2 * yy];
    const int n = bounds[2 * yy + 1];
    const int *k = kk + yy * ksize;
    const u8 *first = in + (long)ymin * width;
    u8 *o = out + (long)yy * width;
    int i = 0;
    for (; i + 16 <= width; i += 16) {
      v128_t a0 = half, a1 = half, a2 = half, a3 = half;
      const u8 *p = first + i;
      for (int t = 0; t < n; t++, p += width) {
        const v128_t px = wasm_v128_load(p);
        const v128_t w = wasm_i32x4_splat(k[t]);
        const v128_t lo = wasm_u16x8_extend_low_u8x16(px);
        const v128_t hi = wasm_u16x8_extend_high_u8x16(px);
        a0 = wasm_i32x4_add(a0, wasm_i32x4_mul(wasm_u32x4_extend_low_u16x8(lo), w));
        a1 = wasm_i32x4_add(a1, wasm_i32x4_mul(wasm_u32x4_extend_high_u16x8(lo), w));
        a2 = wasm_i32x4_add(a2, wasm_i32x4_mul(wasm_u32x4_extend_low_u16x8(hi), w));
        a3 = wasm_i32x4_add(a3, wasm_i32x4_mul(wasm_u32x4_extend_high_u16x8(hi), w));
      }
      // Arithmetic shift, then the saturating narrows clamp to [0, 255]: PIL's clip8.
      const v128_t s01 = wasm_i16x8_narrow_i32x4(wasm_i32x4_shr(a0, PRECISION_BITS), wasm_i32x4_shr(a1, PRECISION_BITS));
      const v128_t s23 = wasm_i16x8_narrow_i32x4(wasm_i32x4_shr(a2, PRECISION_BITS), wasm_i32x4_shr(a3, PRECISION_BITS));
      wasm_v128_store(o + i, wasm_u8x16_narrow_i16x8(s01, s23));
    }
    for (; i < width; i++) {
      int s = 1 << (PRECISION_BITS - 1);
      const u8 *p = first + i;
      for (int t = 0; t < n; t++, p += width) s += *p * k[t];
      o[i] = (u8)clip8(s);
    }
  }
}

// dst (width rows of height RGB pixels) = src (height rows of width RGB pixels) transposed, in
// 8×8 pixel tiles so both sides stay in cache.
__attribute__((export_name("transpose_rgb"))) void transpose_rgb(const u8 *src, int width, int height, u8 *dst) {
  const int T = 8;
  for (int y0 = 0; y0 < height; y0 += T) {
    const int y1 = y0 + T < height ? y0 + T : height;
    for (int x0 = 0; x0 < width; x0 += T) {
      const int x1 = x0 + T < width ? x0 + T : width;
      for (int y = y0; y < y1; y++) {
        const u8 *s = src + ((long)y * width + x0) * 3;
        for (int x = x0; x < x1; x++, s += 3) {
          u8 *d = dst + ((long)x * height + y) * 3;
          d[0] = s[0];
          d[1] = s[1];
          d[2] = s[2];
        }
      }
    }
  }
}
