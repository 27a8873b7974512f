// Pillow's per-pixel colour passes for 8-bit RGB, with the C types of Pillow's own code (float where
// Pillow declares float, double where C promotes), so results are bit-exact with PIL:
//  - rgb_hue: torchvision's adjust_hue on PIL images = Convert.c rgb2hsv_row, uint8 hue shift with
//    wrap-around, Convert.c hsv2rgb (Pillow 9.4).
//  - rgb_blend_luma: ImageEnhance.Color = Image.blend(convert('L'), img, alpha) (Blend.c).
//  - luma_sum: the sum of convert('L') (ITU-R 601-2 luma, 16-bit fixed point), for Contrast's mean.
//  - rgb_grayscale, map_bytes (256-entry tables: brightness, contrast, solarize), rgb_hflip.
//  - normalize_chw: ToTensor + Normalize as per-channel 256-entry float tables, HWC u8 -> CHW f32.
// Built with -ffp-contract=off: a fused multiply-add would change roundings.
#include <wasm_simd128.h>

typedef unsigned char u8;

static inline int clip8(int v) { return v < 0 ? 0 : v > 255 ? 255 : v; }

// C round() for x >= 0: halves away from zero. x - trunc(x) is exact, so this is round() exactly
// (floor(x + 0.5) is not: 0.49999999999999994 + 0.5 rounds up to 1).
static inline int round_pos(double x) {
  const double t = __builtin_trunc(x);
  return (int)t + (x - t >= 0.5);
}

// One pixel, scalar: the loop tail of rgb_hue and the reference its SIMD body follows.
static inline void hue_pixel(const u8 *src, int shift, u8 *dst) {
  const int r = src[0], g = src[1], b = src[2];
  const int maxc = r > g ? (r > b ? r : b) : (g > b ? g : b);
  const int minc = r < g ? (r < b ? r : b) : (g < b ? g : b);
  if (maxc == minc) {
    // Saturation 0: hsv2rgb returns (v, v, v) whatever the hue.
    dst[0] = dst[1] = dst[2] = (u8)maxc;
    return;
  }
  const float cr = (float)(maxc - minc);
  const float s = cr / (float)maxc;
  const float rc = ((float)(maxc - r)) / cr;
  const float gc = ((float)(maxc - g)) / cr;
  const float bc = ((float)(maxc - b)) / cr;
  float h;
  if (r == maxc) h = bc - gc;
  else if (g == maxc) h = 2.0 + rc - bc;
  else h = 4.0 + gc - rc;
  // fmod(x, 1.0) for x in (0, 2): x - floor(x), exact.
  const double x = h / 6.0 + 1.0;
  h = (float)(x - __builtin_floor(x));
  const int hh = (clip8((int)(h * 255.0)) + shift) & 0xff;
  const int ss = clip8((int)(s * 255.0));
  const int v = maxc;
  if (ss == 0) {
    dst[0] = dst[1] = dst[2] = (u8)v;
    return;
  }
  const int k = (int)__builtin_floor((float)hh * 6.0 / 255.0);
  const float f = (float)hh * 6.0 / 255.0 - (float)k;
  const float fs = ((float)ss) / 255.0;
  const u8 p = (u8)clip8(round_pos((float)v * (1.0 - fs)));
  const u8 q = (u8)clip8(round_pos((float)v * (1.0 - fs * f)));
  const u8 t = (u8)clip8(round_pos((float)v * (1.0 - fs * (1.0 - f))));
  const u8 vv = (u8)v;
  switch (k % 6) {
    case 0: dst[0] = vv; dst[1] = t; dst[2] = p; break;
    case 1: dst[0] = q; dst[1] = vv; dst[2] = p; break;
    case 2: dst[0] = p; dst[1] = vv; dst[2] = t; break;
    case 3: dst[0] = p; dst[1] = q; dst[2] = vv; break;
    case 4: dst[0] = t; dst[1] = p; dst[2] = vv; break;
    default: dst[0] = vv; dst[1] = p; dst[2] = q;
  }
}

// Four lanes of a double-precision step: f(lo half), f(hi half) of an f32x4, back to f32x4.
#define F64_LANES(x, lo, hi) const v128_t lo = wasm_f64x2_promote_low_f32x4(x), hi = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(x, x, 2, 3, 0, 1))
static inline v128_t demote2(v128_t lo, v128_t hi) {
  return wasm_i32x4_shuffle(wasm_f32x4_demote_f64x2_zero(lo), wasm_f32x4_demote_f64x2_zero(hi), 0, 1, 4, 5);
}
static inline v128_t trunc2(v128_t lo, v128_t hi) {
  return wasm_i32x4_shuffle(wasm_i32x4_trunc_sat_f64x2_zero(lo), wasm_i32x4_trunc_sat_f64x2_zero(hi), 0, 1, 4, 5);
}
// round_pos of one f64x2, as i32 in the low two lanes.
static inline v128_t round2(v128_t x) {
  const v128_t t = wasm_f64x2_trunc(x);
  const v128_t up = wasm_f64x2_ge(wasm_f64x2_sub(x, t), wasm_f64x2_splat(0.5));
  const v128_t ti = wasm_i32x4_trunc_sat_f64x2_zero(t);
  // up is all-ones (−1) per 64-bit lane: its low 32 bits, moved to the two low i32 lanes.
  return wasm_i32x4_sub(ti, wasm_i32x4_shuffle(up, up, 0, 2, 0, 2));
}
static inline v128_t round4(v128_t lo, v128_t hi) { return wasm_i32x4_shuffle(round2(lo), round2(hi), 0, 1, 4, 5); }
static inline v128_t clip8x4(v128_t v) { return wasm_i32x4_min(wasm_i32x4_max(v, wasm_i32x4_splat(0)), wasm_i32x4_splat(255)); }
#define SEL(mask, a, b) wasm_v128_bitselect(a, b, mask)

__attribute__((export_name("rgb_hue"))) void rgb_hue(const u8 *src, int n, int shift, u8 *dst) {
  int i = 0;
  // Four pixels per step, the scalar code's operations lane-wise (IEEE float and double ops are the
  // same in SIMD), its branches as selects. A 16-byte load at pixel i reads 3i..3i+15: i + 6 <= n
  // keeps it, and the 16-byte store, inside the image.
  const v128_t zero = wasm_i32x4_splat(0);
  const v128_t sr = wasm_i8x16_make(0, 16, 16, 16, 3, 16, 16, 16, 6, 16, 16, 16, 9, 16, 16, 16);
  const v128_t sg = wasm_i8x16_make(1, 16, 16, 16, 4, 16, 16, 16, 7, 16, 16, 16, 10, 16, 16, 16);
  const v128_t sb = wasm_i8x16_make(2, 16, 16, 16, 5, 16, 16, 16, 8, 16, 16, 16, 11, 16, 16, 16);
  const v128_t interleave = wasm_i8x16_make(0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11, 12, 13, 14, 15);
  for (; i + 6 <= n; i += 4) {
    const v128_t px = wasm_v128_load(src + 3 * i);
    const v128_t r = wasm_i8x16_swizzle(px, sr), g = wasm_i8x16_swizzle(px, sg), b = wasm_i8x16_swizzle(px, sb);
    const v128_t maxc = wasm_i32x4_max(r, wasm_i32x4_max(g, b));
    const v128_t minc = wasm_i32x4_min(r, wasm_i32x4_min(g, b));
    const v128_t cr = wasm_f32x4_convert_i32x4(wasm_i32x4_sub(maxc, minc));
    // Grey lanes divide by zero here (NaN/inf); they are replaced by (v, v, v) at the end.
    const v128_t sv = wasm_f32x4_div(cr, wasm_f32x4_convert_i32x4(maxc));
    const v128_t rc = wasm_f32x4_div(wasm_f32x4_convert_i32x4(wasm_i32x4_sub(maxc, r)), cr);
    const v128_t gc = wasm_f32x4_div(wasm_f32x4_convert_i32x4(wasm_i32x4_sub(maxc, g)), cr);
    const v128_t bc = wasm_f32x4_div(wasm_f32x4_convert_i32x4(wasm_i32x4_sub(maxc, b)), cr);
    const v128_t hr = wasm_f32x4_sub(bc, gc);
    F64_LANES(rc, rcl, rch);
    F64_LANES(gc, gcl, gch);
    F64_LANES(bc, bcl, bch);
    const v128_t two = wasm_f64x2_splat(2.0), four = wasm_f64x2_splat(4.0);
    const v128_t hg = demote2(wasm_f64x2_sub(wasm_f64x2_add(two, rcl), bcl), wasm_f64x2_sub(wasm_f64x2_add(two, rch), bch));
    const v128_t hb = demote2(wasm_f64x2_sub(wasm_f64x2_add(four, gcl), rcl), wasm_f64x2_sub(wasm_f64x2_add(four, gch), rch));
    const v128_t isr = wasm_i32x4_eq(r, maxc), isg = wasm_i32x4_eq(g, maxc);
    const v128_t h0 = SEL(isr, hr, SEL(isg, hg, hb));
    F64_LANES(h0, h0l, h0h);
    const v128_t six = wasm_f64x2_splat(6.0), one = wasm_f64x2_splat(1.0), c255 = wasm_f64x2_splat(255.0);
    const v128_t xl = wasm_f64x2_add(wasm_f64x2_div(h0l, six), one), xh = wasm_f64x2_add(wasm_f64x2_div(h0h, six), one);
    const v128_t h1 = demote2(wasm_f64x2_sub(xl, wasm_f64x2_floor(xl)), wasm_f64x2_sub(xh, wasm_f64x2_floor(xh)));
    F64_LANES(h1, h1l, h1h);
    const v128_t hh = clip8x4(trunc2(wasm_f64x2_mul(h1l, c255), wasm_f64x2_mul(h1h, c255)));
    const v128_t hs = wasm_v128_and(wasm_i32x4_add(hh, wasm_i32x4_splat(shift)), wasm_i32x4_splat(0xff));
    F64_LANES(sv, svl, svh);
    const v128_t ss = clip8x4(trunc2(wasm_f64x2_mul(svl, c255), wasm_f64x2_mul(svh, c255)));
    // hsv2rgb.
    const v128_t hf = wasm_f32x4_convert_i32x4(hs);
    F64_LANES(hf, hfl, hfh);
    const v128_t yl = wasm_f64x2_div(wasm_f64x2_mul(hfl, six), c255), yh = wasm_f64x2_div(wasm_f64x2_mul(hfh, six), c255);
    const v128_t kl = wasm_f64x2_floor(yl), kh = wasm_f64x2_floor(yh);
    const v128_t k = trunc2(kl, kh);
    // f = y − (float)k, stored to float: k is a small integer, exact in either precision.
    const v128_t f = demote2(wasm_f64x2_sub(yl, kl), wasm_f64x2_sub(yh, kh));
    const v128_t ssf = wasm_f32x4_convert_i32x4(ss);
    F64_LANES(ssf, ssl, ssh);
    const v128_t fs = demote2(wasm_f64x2_div(ssl, c255), wasm_f64x2_div(ssh, c255));
    const v128_t vf = wasm_f32x4_convert_i32x4(maxc);
    F64_LANES(vf, vl, vh);
    F64_LANES(fs, fsl, fsh);
    const v128_t fsf = wasm_f32x4_mul(fs, f);
    F64_LANES(fsf, fsfl, fsfh);
    F64_LANES(f, fl, fh);
    const v128_t p = clip8x4(round4(wasm_f64x2_mul(vl, wasm_f64x2_sub(one, fsl)), wasm_f64x2_mul(vh, wasm_f64x2_sub(one, fsh))));
    const v128_t q = clip8x4(round4(wasm_f64x2_mul(vl, wasm_f64x2_sub(one, fsfl)), wasm_f64x2_mul(vh, wasm_f64x2_sub(one, fsfh))));
    const v128_t t = clip8x4(round4(wasm_f64x2_mul(vl, wasm_f64x2_sub(one, wasm_f64x2_mul(fsl, wasm_f64x2_sub(one, fl)))),
                                    wasm_f64x2_mul(vh, wasm_f64x2_sub(one, wasm_f64x2_mul(fsh, wasm_f64x2_sub(one, fh))))));
    const v128_t k6 = SEL(wasm_i32x4_eq(k, wasm_i32x4_splat(6)), zero, k);
#define K(c) wasm_i32x4_eq(k6, wasm_i32x4_splat(c))
    const v128_t v = maxc;
    v128_t ro = SEL(K(1), q, SEL(K(2), p, SEL(K(3), p, SEL(K(4), t, v))));
    v128_t go = SEL(K(0), t, SEL(K(1), v, SEL(K(2), v, SEL(K(3), q, p))));
    v128_t bo = SEL(K(0), p, SEL(K(1), p, SEL(K(2), t, SEL(K(5), q, v))));
#undef K
    const v128_t grey = wasm_v128_or(wasm_i32x4_eq(maxc, minc), wasm_i32x4_eq(ss, zero));
    ro = SEL(grey, v, ro);
    go = SEL(grey, v, go);
    bo = SEL(grey, v, bo);
    const v128_t bytes = wasm_u8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(ro, go), wasm_i16x8_narrow_i32x4(bo, bo));
    wasm_v128_store(dst + 3 * i, wasm_i8x16_swizzle(bytes, interleave));
  }
  for (; i < n; i++) hue_pixel(src + 3 * i, shift, dst + 3 * i);
}

static inline int luma(int r, int g, int b) { return (int)(((unsigned)(r * 19595 + g * 38470 + b * 7471) + 0x8000u) >> 16); }

// Image.blend(a, b, alpha) for one value: a + alpha * (b - a) in float, truncated; clipped to
// [0, 255] when alpha extrapolates, wrapped to 8 bits otherwise (it then stays in range).
static inline u8 blend(int a, int b, float alpha, int clip) {
  const float t = (float)a + alpha * (float)(b - a);
  if (!clip) return (u8)((int)t & 0xff);
  return t <= 0.0f ? 0 : t >= 255.0f ? 255 : (u8)(int)t;
}

__attribute__((export_name("rgb_blend_luma"))) void rgb_blend_luma(const u8 *src, int n, float alpha, int clip, u8 *dst) {
  for (int i = 0; i < n; i++, src += 3, dst += 3) {
    const int l = luma(src[0], src[1], src[2]);
    dst[0] = blend(l, src[0], alpha, clip);
    dst[1] = blend(l, src[1], alpha, clip);
    dst[2] = blend(l, src[2], alpha, clip);
  }
}

// A double: exact for any image below 2^45 pixels.
__attribute__((export_name("luma_sum"))) double luma_sum(const u8 *src, int n) {
  unsigned long long sum = 0;
  for (int i = 0; i < n; i++, src += 3) sum += (unsigned)luma(src[0], src[1], src[2]);
  return (double)sum;
}

__attribute__((export_name("rgb_grayscale"))) void rgb_grayscale(const u8 *src, int n, u8 *dst) {
  for (int i = 0; i < n; i++, src += 3, dst += 3) dst[0] = dst[1] = dst[2] = (u8)luma(src[0], src[1], src[2]);
}

__attribute__((export_name("map_bytes"))) void map_bytes(const u8 *src, int bytes, const u8 *table, u8 *dst) {
  for (int i = 0; i < bytes; i++) dst[i] = table[src[i]];
}

__attribute__((export_name("rgb_hflip"))) void rgb_hflip(const u8 *src, int width, int height, u8 *dst) {
  for (int y = 0; y < height; y++) {
    const u8 *s = src + (long)y * width * 3;
    u8 *d = dst + ((long)y * width + width - 1) * 3;
    for (int x = 0; x < width; x++, s += 3, d -= 3) {
      d[0] = s[0];
      d[1] = s[1];
      d[2] = s[2];
    }
  }
}

// tables: 3 × 256 floats, the normalised value of every byte per channel.
__attribute__((export_name("normalize_chw"))) void normalize_chw(const u8 *src, int n, const float *tables, float *dst) {
  const float *t0 = tables, *t1 = tables + 256, *t2 = tables + 512;
  float *d0 = dst, *d1 = dst + n, *d2 = dst + 2 * (long)n;
  for (int i = 0; i < n; i++, src += 3) {
    d0[i] = t0[src[0]];
    d1[i] = t1[src[1]];
    d2[i] = t2[src[2]];
  }
}
