/**
 * `PIL.Image.resize` for 8-bit RGB (Pillow's `Resample.c`), bit-exact: per output pixel the filter
 * support grows with the downscale factor (antialiasing), coefficients are normalised, stored as
 * 22-bit fixed point with PIL's rounding, and the image is resampled horizontally then vertically
 * with rounding/clipping to 8 bits after each pass. torchvision's `RandomResizedCrop` on PIL images
 * is `crop` followed by this resize (docs/selfpatch.md §6: BICUBIC, a = −0.5 — not torch's bicubic).
 *
 * Hand-written: no JS library reproduces PIL's resampler, and the augmentations must match it.
 */
import { createImage, type RGBImage } from './image.js';

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

function clip8(v: number): number {
  const s = v >> PRECISION_BITS;
  return s < 0 ? 0 : s > 255 ? 255 : s;
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
  const ch = precompute(img.width, bx0, bx1, outW, filter);
  const cv = precompute(img.height, by0, by1, outH, filter);
  let src = img;
  let rowOffset = 0;
  if (needH) {
    const yFirst = cv.bounds[0] as number;
    const yLast = (cv.bounds[outH * 2 - 2] as number) + (cv.bounds[outH * 2 - 1] as number);
    const tmp = createImage(outW, yLast - yFirst);
    const { ksize, bounds, kk } = ch;
    for (let yy = 0; yy < tmp.height; yy++) {
      const rowIn = (yy + yFirst) * img.width * 3;
      for (let xx = 0; xx < outW; xx++) {
        const xmin = bounds[xx * 2] as number;
        const n = bounds[xx * 2 + 1] as number;
        let s0 = 1 << (PRECISION_BITS - 1);
        let s1 = s0;
        let s2 = s0;
        for (let x = 0; x < n; x++) {
          const w = kk[xx * ksize + x] as number;
          const p = rowIn + (x + xmin) * 3;
          s0 += (img.data[p] as number) * w;
          s1 += (img.data[p + 1] as number) * w;
          s2 += (img.data[p + 2] as number) * w;
        }
        const o = (yy * outW + xx) * 3;
        tmp.data[o] = clip8(s0);
        tmp.data[o + 1] = clip8(s1);
        tmp.data[o + 2] = clip8(s2);
      }
    }
    src = tmp;
    rowOffset = yFirst;
  }
  if (!needV) return src === img ? { width: img.width, height: img.height, data: img.data.slice() } : src;
  const out = createImage(src.width, outH);
  const { ksize, bounds, kk } = cv;
  for (let yy = 0; yy < outH; yy++) {
    const ymin = (bounds[yy * 2] as number) - rowOffset;
    const n = bounds[yy * 2 + 1] as number;
    for (let xx = 0; xx < src.width; xx++) {
      let s0 = 1 << (PRECISION_BITS - 1);
      let s1 = s0;
      let s2 = s0;
      for (let y = 0; y < n; y++) {
        const w = kk[yy * ksize + y] as number;
        const p = ((y + ymin) * src.width + xx) * 3;
        s0 += (src.data[p] as number) * w;
        s1 += (src.data[p + 1] as number) * w;
        s2 += (src.data[p + 2] as number) * w;
      }
      const o = (yy * src.width + xx) * 3;
      out.data[o] = clip8(s0);
      out.data[o + 1] = clip8(s1);
      out.data[o + 2] = clip8(s2);
    }
  }
  return out;
}
