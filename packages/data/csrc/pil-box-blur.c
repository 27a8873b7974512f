// Pillow's box blur pass (BoxBlur.c, ImagingLineBoxBlur32) for 8-bit RGB: the fractional-radius
// box with 24-bit fixed-point weights, edge pixels repeated, bulk sums in UINT32 as the C does, so
// results are bit-exact with PIL. Columns are blurred as rows of the transposed image
// (transpose_rgb in pil-resample.c), as Pillow does.
typedef unsigned char u8;

// One pass over every row of `buf` (height rows of width RGB pixels), in place; `line` holds one
// row (width · 3 bytes).
__attribute__((export_name("box_blur_rows"))) void box_blur_rows(u8 *buf, int width, int height, float floatRadius, u8 *line) {
  const int radius = (int)floatRadius;
  const unsigned ww = (unsigned)((float)(1 << 24) / (floatRadius * 2 + 1));
  const unsigned fw = ((1u << 24) - (unsigned)(radius * 2 + 1) * ww) / 2;
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
