/**
 * PIL colour operations used by torchvision's ColorJitter/RandomGrayscale/RandomSolarize on PIL
 * images (docs/selfpatch.md §6), ported from Pillow: `convert('L')` (ITU-R 601-2 luma in 16-bit fixed
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

/** The 256 results of blending every 8-bit value with a constant (`Image.blend` with a flat image). */
function blendTable(constant: number, alpha: number, clip: boolean): Uint8Array {
  const table = new Uint8Array(256);
  for (let v = 0; v < 256; v++) table[v] = blendValue(constant, v, alpha, clip);
  return table;
}

function mapValues(img: RGBImage, table: Uint8Array): RGBImage {
  const out = createImage(img.width, img.height);
  const d = img.data;
  const o = out.data;
  for (let i = 0; i < d.length; i++) o[i] = table[d[i] as number] as number;
  return out;
}

/** `ImageEnhance.Brightness(img).enhance(f)`: blend with black. */
export function adjustBrightness(img: RGBImage, factor: number): RGBImage {
  const alpha = f32(factor);
  return mapValues(img, blendTable(0, alpha, !(alpha >= 0 && alpha <= 1)));
}

/** `ImageEnhance.Contrast(img).enhance(f)`: blend with the rounded mean luma. */
export function adjustContrast(img: RGBImage, factor: number): RGBImage {
  const l = luma(img);
  let sum = 0;
  for (const v of l) sum += v;
  const mean = Math.trunc(sum / l.length + 0.5);
  const alpha = f32(factor);
  return mapValues(img, blendTable(mean, alpha, !(alpha >= 0 && alpha <= 1)));
}

/** `ImageEnhance.Color(img).enhance(f)`: blend with the grayscale image. */
export function adjustSaturation(img: RGBImage, factor: number): RGBImage {
  const alpha = f32(factor);
  const clip = !(alpha >= 0 && alpha <= 1);
  const out = createImage(img.width, img.height);
  const d = img.data;
  const o = out.data;
  for (let i = 0; i < d.length; i += 3) {
    const r = d[i] as number;
    const g = d[i + 1] as number;
    const b = d[i + 2] as number;
    const l = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16;
    o[i] = blendValue(l, r, alpha, clip);
    o[i + 1] = blendValue(l, g, alpha, clip);
    o[i + 2] = blendValue(l, b, alpha, clip);
  }
  return out;
}

/** C `round`: halves away from zero (arguments here are non-negative). */
function roundHalfAway(x: number): number {
  return Math.floor(x + 0.5);
}

function c8(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Pillow's hsv2rgb per 8-bit hue: the sector `floor(h·6/255)` and the float fraction within it. */
const HSV_SECTOR = new Uint8Array(256);
const HSV_FRACTION = new Float32Array(256);
for (let h = 0; h < 256; h++) {
  HSV_SECTOR[h] = Math.floor((h * 6) / 255);
  HSV_FRACTION[h] = f32((h * 6) / 255 - (HSV_SECTOR[h] as number));
}

/**
 * torchvision `adjust_hue` on PIL: RGB → HSV (Pillow's float code), `h += uint8(hue·255)` with
 * wrap-around, back to RGB (Pillow's `hsv2rgb`). `hue ∈ [−0.5, 0.5]`. Written allocation-free per
 * pixel (this is the hottest op of the multi-crop recipe); float32 steps as in the C source.
 */
export function adjustHue(img: RGBImage, hue: number): RGBImage {
  const shift = ((Math.trunc(hue * 255) % 256) + 256) % 256;
  const out = createImage(img.width, img.height);
  const d = img.data;
  const o = out.data;
  for (let i = 0; i < d.length; i += 3) {
    const r = d[i] as number;
    const g = d[i + 1] as number;
    const b = d[i + 2] as number;
    const maxc = r > g ? (r > b ? r : b) : g > b ? g : b;
    const minc = r < g ? (r < b ? r : b) : g < b ? g : b;
    if (maxc === minc) {
      // Saturation 0: hsv2rgb returns (v, v, v) whatever the hue.
      o[i] = o[i + 1] = o[i + 2] = maxc;
      continue;
    }
    const cr = f32(maxc - minc);
    const sF = f32(cr / maxc);
    const rc = f32((maxc - r) / cr);
    const gc = f32((maxc - g) / cr);
    const bc = f32((maxc - b) / cr);
    // `2.0 + rc - bc` is evaluated in double and stored to float once (C promotion rules).
    let hF = r === maxc ? f32(bc - gc) : g === maxc ? f32(2 + rc - bc) : f32(4 + gc - rc);
    // C's fmod(x, 1) for x in (0, 2) is x − floor(x), exactly; a float `%` is a slow runtime call.
    const x = hF / 6 + 1;
    hF = f32(x - Math.floor(x));
    const h8 = (c8(Math.trunc(hF * 255)) + shift) & 0xff;
    const s8 = c8(Math.trunc(sF * 255));
    const v = maxc;
    if (s8 === 0) {
      o[i] = o[i + 1] = o[i + 2] = v;
      continue;
    }
    const k = HSV_SECTOR[h8] as number;
    const f = HSV_FRACTION[h8] as number;
    const fs = f32(s8 / 255);
    const pp = c8(roundHalfAway(v * (1 - fs)));
    // `fs * f` is a float×float product (rounded to float) before the double arithmetic.
    const q = c8(roundHalfAway(v * (1 - f32(fs * f))));
    const t = c8(roundHalfAway(v * (1 - fs * (1 - f))));
    switch (k % 6) {
      case 0:
        o[i] = v; o[i + 1] = t; o[i + 2] = pp;
        break;
      case 1:
        o[i] = q; o[i + 1] = v; o[i + 2] = pp;
        break;
      case 2:
        o[i] = pp; o[i + 1] = v; o[i + 2] = t;
        break;
      case 3:
        o[i] = pp; o[i + 1] = q; o[i + 2] = v;
        break;
      case 4:
        o[i] = t; o[i + 1] = pp; o[i + 2] = v;
        break;
      default:
        o[i] = v; o[i + 1] = pp; o[i + 2] = q;
    }
  }
  return out;
}

/** `ImageOps.solarize(img, threshold)`: values ≥ threshold become 255 − v. */
export function solarize(img: RGBImage, threshold = 128): RGBImage {
  const table = new Uint8Array(256);
  for (let v = 0; v < 256; v++) table[v] = v < threshold ? v : 255 - v;
  return mapValues(img, table);
}
