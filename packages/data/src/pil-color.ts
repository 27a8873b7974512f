/**
 * PIL colour operations used by torchvision's ColorJitter/RandomGrayscale/RandomSolarize on PIL
 * images (docs/selfpatch.md §6), ported from Pillow: `convert('L')` (ITU-R 601-2 luma in 16-bit fixed
 * point), `Image.blend` (float32 interpolation, truncated to 8 bits; clipped when extrapolating),
 * `ImageEnhance.{Brightness,Contrast,Color}`, torchvision's `adjust_hue` (uint8 hue shift in PIL's
 * HSV), `ImageOps.solarize`. The per-pixel passes run in wasm (csrc/pil-color.c, via
 * pil-kernels.ts) with Pillow's C types; blends with a constant are 256-entry tables built here.
 */
import type { RGBImage } from './image.js';
import { imagePass } from './pil-kernels.js';

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
  return imagePass(img, (mod, src, dst) => mod.rgb_grayscale(src, img.width * img.height, dst));
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
  return imagePass(img, (mod, src, dst, arena) => mod.map_bytes(src, img.data.length, arena.copyIn(table), dst));
}

/** `ImageEnhance.Brightness(img).enhance(f)`: blend with black. */
export function adjustBrightness(img: RGBImage, factor: number): RGBImage {
  const alpha = f32(factor);
  return mapValues(img, blendTable(0, alpha, !(alpha >= 0 && alpha <= 1)));
}

/** `ImageEnhance.Contrast(img).enhance(f)`: blend with the rounded mean luma. */
export function adjustContrast(img: RGBImage, factor: number): RGBImage {
  const n = img.width * img.height;
  const alpha = f32(factor);
  return imagePass(img, (mod, src, dst, arena) => {
    const mean = Math.trunc(mod.luma_sum(src, n) / n + 0.5);
    mod.map_bytes(src, img.data.length, arena.copyIn(blendTable(mean, alpha, !(alpha >= 0 && alpha <= 1))), dst);
  });
}

/** `ImageEnhance.Color(img).enhance(f)`: blend with the grayscale image. */
export function adjustSaturation(img: RGBImage, factor: number): RGBImage {
  const alpha = f32(factor);
  const clip = alpha >= 0 && alpha <= 1 ? 0 : 1;
  return imagePass(img, (mod, src, dst) => mod.rgb_blend_luma(src, img.width * img.height, alpha, clip, dst));
}

/**
 * torchvision `adjust_hue` on PIL: RGB → HSV (Pillow's float code), `h += uint8(hue·255)` with
 * wrap-around, back to RGB (Pillow's `hsv2rgb`). `hue ∈ [−0.5, 0.5]`.
 */
export function adjustHue(img: RGBImage, hue: number): RGBImage {
  const shift = ((Math.trunc(hue * 255) % 256) + 256) % 256;
  return imagePass(img, (mod, src, dst) => mod.rgb_hue(src, img.width * img.height, shift, dst));
}

/** `ImageOps.solarize(img, threshold)`: values ≥ threshold become 255 − v. */
export function solarize(img: RGBImage, threshold = 128): RGBImage {
  const table = new Uint8Array(256);
  for (let v = 0; v < 256; v++) table[v] = v < threshold ? v : 255 - v;
  return mapValues(img, table);
}
