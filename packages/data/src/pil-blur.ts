/**
 * `PIL.ImageFilter.GaussianBlur(radius)` for 8-bit RGB, bit-exact with Pillow: an extended box blur
 * (Gwosdek et al. 2011) of 3 passes per axis whose fractional box radius comes from the Gaussian's
 * σ² = r²/3, computed in C `float` as Pillow does; each pass uses 24-bit fixed-point weights with
 * edge pixels repeated. The official utils apply it with p and radius ~ U(0.1, 2.0)
 * (docs/selfpatch.md §6). Hand-written: no JS library reproduces Pillow's blur.
 */
import { createImage, type RGBImage } from './image.js';

const f32 = Math.fround;

/** Pillow's `_gaussian_blur_radius(radius, passes)` in float32 semantics. */
export function gaussianBoxRadius(radius: number, passes = 3): number {
  const r = f32(radius);
  const sigma2 = f32(f32(r * r) / passes);
  const L = f32(Math.sqrt(12 * sigma2 + 1));
  const l = f32(Math.floor((L - 1) / 2));
  let a = f32(f32(2 * l + 1) * f32(f32(l * f32(l + 1)) - f32(3 * sigma2)));
  a = f32(a / f32(6 * f32(sigma2 - f32(f32(l + 1) * f32(l + 1)))));
  return f32(l + a);
}

/** One box-blur pass over `n` values at `stride` (in place through a scratch line). */
function boxLine(buf: Uint8Array, start: number, stride: number, n: number, floatRadius: number, line: Int32Array, src: Int32Array): void {
  const radius = Math.trunc(floatRadius);
  const ww = Math.trunc(f32(16777216 / f32(floatRadius * 2 + 1)));
  const fw = Math.floor((16777216 - (radius * 2 + 1) * ww) / 2);
  const lastx = n - 1;
  const edgeA = Math.min(radius + 1, n);
  const edgeB = Math.max(n - radius - 1, 0);
  for (let x = 0; x < n; x++) src[x] = buf[start + x * stride] as number;
  let acc = (src[0] as number) * (radius + 1);
  for (let x = 0; x < edgeA - 1; x++) acc += src[x] as number;
  acc += (src[lastx] as number) * (radius - edgeA + 1);
  // bulk = acc·ww + (left + right)·fw < 2^32; rounding to 8 bits as Pillow's SAVE().
  const put = (x: number, left: number, right: number): void => {
    line[x] = Math.floor((acc * ww + ((src[left] as number) + (src[right] as number)) * fw + 8388608) / 16777216);
  };
  if (edgeA <= edgeB) {
    for (let x = 0; x < edgeA; x++) {
      acc += (src[x + radius] as number) - (src[0] as number);
      put(x, 0, x + radius + 1);
    }
    for (let x = edgeA; x < edgeB; x++) {
      acc += (src[x + radius] as number) - (src[x - radius - 1] as number);
      put(x, x - radius - 1, x + radius + 1);
    }
    for (let x = edgeB; x <= lastx; x++) {
      acc += (src[lastx] as number) - (src[x - radius - 1] as number);
      put(x, x - radius - 1, lastx);
    }
  } else {
    for (let x = 0; x < edgeB; x++) {
      acc += (src[x + radius] as number) - (src[0] as number);
      put(x, 0, x + radius + 1);
    }
    for (let x = edgeB; x < edgeA; x++) {
      acc += (src[lastx] as number) - (src[0] as number);
      put(x, 0, lastx);
    }
    for (let x = edgeA; x <= lastx; x++) {
      acc += (src[lastx] as number) - (src[x - radius - 1] as number);
      put(x, x - radius - 1, lastx);
    }
  }
  for (let x = 0; x < n; x++) buf[start + x * stride] = line[x] as number;
}

/**
 * @example
 * ```ts
 * const blurred = gaussianBlur(img, rng.uniformRange(0.1, 2.0));
 * ```
 */
export function gaussianBlur(img: RGBImage, radius: number, passes = 3): RGBImage {
  const out = createImage(img.width, img.height);
  out.data.set(img.data);
  const r = gaussianBoxRadius(radius, passes);
  if (r === 0) return out;
  const { width: w, height: h } = img;
  const line = new Int32Array(Math.max(w, h));
  const src = new Int32Array(Math.max(w, h));
  for (let p = 0; p < passes; p++) {
    for (let y = 0; y < h; y++) for (let c = 0; c < 3; c++) boxLine(out.data, y * w * 3 + c, 3, w, r, line, src);
  }
  for (let p = 0; p < passes; p++) {
    for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) boxLine(out.data, x * 3 + c, w * 3, h, r, line, src);
  }
  return out;
}
