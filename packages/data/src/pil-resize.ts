/**
 * `PIL.Image.resize` for 8-bit RGB (Pillow's `Resample.c`), bit-exact: per output pixel the filter
 * support grows with the downscale factor (antialiasing), coefficients are normalised, stored as
 * 22-bit fixed point with PIL's rounding, and the image is resampled horizontally then vertically
 * with rounding/clipping to 8 bits after each pass. torchvision's `RandomResizedCrop` on PIL images
 * is `crop` followed by this resize (docs/selfpatch.md §6: BICUBIC, a = −0.5 — not torch's bicubic).
 *
 * The two passes run in wasm with SIMD (csrc/pil-resample.c, via pil-kernels.ts): V8's scalar code
 * over the same integer sums measured 2.9× PIL's time (420×400 → 224: 5.8 ms against 2.0 ms), the
 * largest share of the multi-crop recipe. The coefficients are computed here, as PIL computes
 * them, in double precision.
 *
 * Hand-written: no JS library reproduces PIL's resampler, and the augmentations must match it.
 */
import { createImage, type RGBImage } from './image.js';
import { Arena } from './pil-kernels.js';

const PRECISION_BITS = 32 - 8 - 2;

export type PilFilter = 'bicubic' | 'bilinear';

const FILTERS: Record<PilFilter, { support: number; f: (x: number) => number }> = {
  bicubic: {
    support: 2,
    f: (x0: number) => {
      const a = -0.5;
      const x = Math.abs(x0);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  bilinear: {
    support: 1,
    f: (x0: number) => {
      const x = Math.abs(x0);
      return x < 1 ? 1 - x : 0;
    },
  },
};

interface Coeffs {
  ksize: number;
  bounds: Int32Array; // [xmin, count] per output
  kk: Int32Array; // fixed point, ksize per output
}

function precompute(inSize: number, in0: number, in1: number, outSize: number, filter: PilFilter): Coeffs {
  const { support: baseSupport, f } = FILTERS[filter];
  const scale = (in1 - in0) / outSize;
  const filterscale = Math.max(scale, 1);
  const support = baseSupport * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = f((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x++) {
      const v = x < xmax && ww !== 0 ? (k[x] as number) / ww : x < xmax ? (k[x] as number) : 0;
      kk[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

/**
 * Resizes to `outW × outH`, optionally from a source box `[x0, y0, x1, y1]` (PIL's `box`).
 *
 * @example
 * ```ts
 * const small = pilResize(img, 224, 224, 'bicubic');
 * ```
 */
export function pilResize(img: RGBImage, outW: number, outH: number, filter: PilFilter = 'bicubic', box?: [number, number, number, number]): RGBImage {
  const [bx0, by0, bx1, by1] = box ?? [0, 0, img.width, img.height];
  const needH = outW !== img.width || bx0 !== 0 || bx1 !== outW;
  const needV = outH !== img.height || by0 !== 0 || by1 !== outH;
  if (!needH && !needV) return { width: img.width, height: img.height, data: img.data.slice() };
  const ch = precompute(img.width, bx0, bx1, outW, filter);
  const cv = precompute(img.height, by0, by1, outH, filter);
  const arena = new Arena();
  const mod = arena.mod;
  // Only the rows the vertical pass reads go through the horizontal one (as PIL does).
  const yFirst = needV ? (cv.bounds[0] as number) : 0;
  const rows = needV ? (cv.bounds[outH * 2 - 2] as number) + (cv.bounds[outH * 2 - 1] as number) - yFirst : img.height;
  const rowBytes = img.width * 3;
  const input = arena.copyIn(img.data.subarray(yFirst * rowBytes, (yFirst + rows) * rowBytes));
  let src = input;
  let srcW = img.width;
  if (needH) {
    // Columns become rows, so the horizontal pass is the row kernel over contiguous bytes.
    const cols = arena.alloc(rows * rowBytes);
    mod.transpose_rgb(input, img.width, rows, cols);
    const passed = arena.alloc(outW * rows * 3);
    mod.resample_rows(cols, rows * 3, passed, outW, arena.int32(ch.bounds), arena.int32(ch.kk), ch.ksize);
    src = arena.alloc(outW * rows * 3);
    mod.transpose_rgb(passed, rows, outW, src);
    srcW = outW;
  }
  const out = createImage(srcW, needV ? outH : rows);
  if (needV) {
    const bounds = cv.bounds.slice();
    for (let i = 0; i < outH; i++) bounds[2 * i] = (bounds[2 * i] as number) - yFirst;
    const dst = arena.alloc(srcW * 3 * outH);
    mod.resample_rows(src, srcW * 3, dst, outH, arena.int32(bounds), arena.int32(cv.kk), cv.ksize);
    out.data.set(arena.bytes(dst, out.data.length));
  } else {
    out.data.set(arena.bytes(src, out.data.length));
  }
  return out;
}
