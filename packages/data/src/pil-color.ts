/**
 * PIL colour operations used by torchvision's ColorJitter/RandomGrayscale/RandomSolarize on PIL
 * images (SELFPATCH_SPEC §6), ported from Pillow: `convert('L')` (ITU-R 601-2 luma in 16-bit fixed
 * point), `Image.blend` (float32 interpolation, truncated to 8 bits; clipped when extrapolating),
 * `ImageEnhance.{Brightness,Contrast,Color}`, torchvision's `adjust_hue` (uint8 hue shift in PIL's
 * HSV), `ImageOps.solarize`.
 */
import { createImage, type RGBImage } from './image.js';

const f32 = Math.fround;

/** PIL `convert('L')`: `(R·19595 + G·38470 + B·7471 + 0x8000) >> 16`. */
export function luma(img: RGBImage): Uint8Array {
  const n = img.width * img.height;
  const out = new Uint8Array(n);
  const d = img.data;
  for (let i = 0; i < n; i++) out[i] = ((d[3 * i] as number) * 19595 + (d[3 * i + 1] as number) * 38470 + (d[3 * i + 2] as number) * 7471 + 0x8000) >>> 16;
  return out;
}

/** Grayscale with 3 identical channels (torchvision `rgb_to_grayscale(num_output_channels=3)`). */
export function grayscale(img: RGBImage): RGBImage {
  const l = luma(img);
  const out = createImage(img.width, img.height);
  for (let i = 0; i < l.length; i++) out.data[3 * i] = out.data[3 * i + 1] = out.data[3 * i + 2] = l[i] as number;
  return out;
}

/** `Image.blend(a, b, alpha)` per channel value: `a + alpha·(b − a)` in float32. */
function blendValue(a: number, b: number, alpha: number, clip: boolean): number {
  const t = f32(a + f32(alpha * (b - a)));
  if (!clip) return Math.trunc(t) & 0xff;
  return t <= 0 ? 0 : t >= 255 ? 255 : Math.trunc(t);
}

function blendWith(img: RGBImage, degenerate: (i: number) => number, factor: number): RGBImage {
  const alpha = f32(factor);
  const clip = !(alpha >= 0 && alpha <= 1);
  const out = createImage(img.width, img.height);
  for (let i = 0; i < img.data.length; i++) out.data[i] = blendValue(degenerate(i), img.data[i] as number, alpha, clip);
  return out;
}

/** `ImageEnhance.Brightness(img).enhance(f)`: blend with black. */
export function adjustBrightness(img: RGBImage, factor: number): RGBImage {
  return blendWith(img, () => 0, factor);
}

/** `ImageEnhance.Contrast(img).enhance(f)`: blend with the rounded mean luma. */
export function adjustContrast(img: RGBImage, factor: number): RGBImage {
  const l = luma(img);
  let sum = 0;
  for (const v of l) sum += v;
  const mean = Math.trunc(sum / l.length + 0.5);
  return blendWith(img, () => mean, factor);
}

/** `ImageEnhance.Color(img).enhance(f)`: blend with the grayscale image. */
export function adjustSaturation(img: RGBImage, factor: number): RGBImage {
  const l = luma(img);
  return blendWith(img, (i) => l[Math.floor(i / 3)] as number, factor);
}

function rgbToHsv(r: number, g: number, b: number): [number, number, number] {
  const maxc = Math.max(r, g, b);
  const minc = Math.min(r, g, b);
  if (maxc === minc) return [0, 0, maxc];
  const cr = f32(maxc - minc);
  const s = f32(cr / maxc);
  const rc = f32((maxc - r) / cr);
  const gc = f32((maxc - g) / cr);
  const bc = f32((maxc - b) / cr);
  let h: number;
  if (r === maxc) h = f32(bc - gc);
  // `2.0 + rc - bc` is evaluated in double and stored to float once (C promotion rules).
  else if (g === maxc) h = f32(2 + rc - bc);
  else h = f32(4 + gc - rc);
  h = f32((h / 6 + 1) % 1);
  const c8 = (v: number) => Math.min(255, Math.max(0, Math.trunc(v)));
  return [c8(h * 255), c8(s * 255), maxc];
}

function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  if (s === 0) return [v, v, v];
  const i = Math.floor((h * 6) / 255);
  const f = f32((h * 6) / 255 - i);
  const fs = f32(s / 255);
  const c8 = (x: number) => Math.min(255, Math.max(0, x));
  const p = c8(roundHalfAway(v * (1 - fs)));
  // `fs * f` is a float×float product (rounded to float) before the double arithmetic.
  const q = c8(roundHalfAway(v * (1 - f32(fs * f))));
  const t = c8(roundHalfAway(v * (1 - fs * (1 - f))));
  switch (i % 6) {
    case 0:
      return [v, t, p];
    case 1:
      return [q, v, p];
    case 2:
      return [p, v, t];
    case 3:
      return [p, q, v];
    case 4:
      return [t, p, v];
    default:
      return [v, p, q];
  }
}

/** C `round`: halves away from zero. */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/**
 * torchvision `adjust_hue` on PIL: RGB → HSV (PIL), `h += uint8(hue·255)` with wrap-around, back to
 * RGB. `hue ∈ [−0.5, 0.5]`.
 */
export function adjustHue(img: RGBImage, hue: number): RGBImage {
  const shift = ((Math.trunc(hue * 255) % 256) + 256) % 256;
  const out = createImage(img.width, img.height);
  const d = img.data;
  for (let i = 0; i < d.length; i += 3) {
    const [h, s, v] = rgbToHsv(d[i] as number, d[i + 1] as number, d[i + 2] as number);
    const [r, g, b] = hsvToRgb((h + shift) & 0xff, s, v);
    out.data[i] = r;
    out.data[i + 1] = g;
    out.data[i + 2] = b;
  }
  return out;
}

/** `ImageOps.solarize(img, threshold)`: values ≥ threshold become 255 − v. */
export function solarize(img: RGBImage, threshold = 128): RGBImage {
  const out = createImage(img.width, img.height);
  for (let i = 0; i < img.data.length; i++) {
    const v = img.data[i] as number;
    out.data[i] = v < threshold ? v : 255 - v;
  }
  return out;
}
