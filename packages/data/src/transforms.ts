/**
 * The augmentation recipes (docs/selfpatch.md §6; docs/swin-moby.md §2) from the bit-exact PIL ops, with
 * torchvision's random-application rules (flip/grayscale when `rand < p`, `RandomApply` unless
 * `p < rand`, the official GaussianBlur when `random() <= p`, Solarization when `random() < p`) and
 * ColorJitter's random order. Randomness comes from one seeded {@link Rng}, so a transform is
 * reproducible and resumable; the draws differ from torch's generator, the rules do not.
 */
import type { Rng } from '@selfpatch/nn/base';
import type { RGBImage } from './image.js';
import { adjustBrightness, adjustContrast, adjustHue, adjustSaturation, grayscale, solarize } from './pil-color.js';
import { gaussianBlur } from './pil-blur.js';
import { hflip, randomResizedCropParams, resizedCrop, toNormalizedCHW } from './geometry.js';
import type { PilFilter } from './pil-resize.js';
import { cvResizeLinear, DAVIS_MEAN, DAVIS_STD, davisFrameSize } from './cv-resize.js';

export interface ColorJitterOptions {
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
}

/** torchvision `ColorJitter`: a random permutation of the four ops with uniformly drawn factors. */
export function colorJitter(img: RGBImage, rng: Rng, o: ColorJitterOptions): RGBImage {
  const order = rng.shuffle([0, 1, 2, 3]);
  const b = rng.uniformRange(Math.max(0, 1 - o.brightness), 1 + o.brightness);
  const c = rng.uniformRange(Math.max(0, 1 - o.contrast), 1 + o.contrast);
  const s = rng.uniformRange(Math.max(0, 1 - o.saturation), 1 + o.saturation);
  const h = rng.uniformRange(-o.hue, o.hue);
  let out = img;
  for (const fn of order) {
    if (fn === 0 && o.brightness > 0) out = adjustBrightness(out, b);
    else if (fn === 1 && o.contrast > 0) out = adjustContrast(out, c);
    else if (fn === 2 && o.saturation > 0) out = adjustSaturation(out, s);
    else if (fn === 3 && o.hue > 0) out = adjustHue(out, h);
  }
  return out;
}

export const SELFPATCH_JITTER: ColorJitterOptions = { brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 };

/** flip(0.5) → ColorJitter with p 0.8 → grayscale with p 0.2. */
export function flipAndColor(img: RGBImage, rng: Rng, jitter: ColorJitterOptions = SELFPATCH_JITTER): RGBImage {
  let out = rng.uniform() < 0.5 ? hflip(img) : img;
  if (!(0.8 < rng.uniform())) out = colorJitter(out, rng, jitter);
  if (rng.uniform() < 0.2) out = grayscale(out);
  return out;
}

/** The official `utils.GaussianBlur(p)`: when `random() <= p`, radius ~ U(0.1, 2.0). */
export function randomBlur(img: RGBImage, rng: Rng, p: number): RGBImage {
  if (!(rng.uniform() <= p)) return img;
  return gaussianBlur(img, rng.uniformRange(0.1, 2.0));
}

/** The official `utils.Solarization(p)`: when `random() < p`, PIL solarize at 128. */
export function randomSolarize(img: RGBImage, rng: Rng, p: number): RGBImage {
  return rng.uniform() < p ? solarize(img) : img;
}

/** One view: `RandomResizedCrop(size, scale, ratio 3/4–4/3)`. */
export function randomResizedCrop(img: RGBImage, rng: Rng, size: number, scale: [number, number], filter: PilFilter): RGBImage {
  return resizedCrop(img, randomResizedCropParams(img.width, img.height, scale, [3 / 4, 4 / 3], rng), size, size, filter);
}

export interface View {
  size: number;
  /** CHW float32, normalised. */
  data: Float32Array;
}

export interface MultiCropOptions {
  globalSize: number;
  localSize: number;
  globalScale: [number, number];
  localScale: [number, number];
  localCrops: number;
}

/** SelfPatch defaults (docs/selfpatch.md §6): 224 at (0.25, 1), 8 × 96 at (0.05, 0.25). */
export const SELFPATCH_MULTICROP: MultiCropOptions = { globalSize: 224, localSize: 96, globalScale: [0.25, 1], localScale: [0.05, 0.25], localCrops: 8 };

/**
 * SelfPatch/DINO multi-crop: global 1 (blur 1.0), global 2 (blur 0.1, solarize 0.2), then the local
 * crops (blur 0.5); bicubic resizing; normalised CHW.
 *
 * @example
 * ```ts
 * const views = multiCrop(img, new Rng(0)); // 2 × 224² then 8 × 96²
 * ```
 */
export function multiCrop(img: RGBImage, rng: Rng, o: MultiCropOptions = SELFPATCH_MULTICROP): View[] {
  const view = (size: number, scale: [number, number], blurP: number, solarizeP: number): View => {
    let v = flipAndColor(randomResizedCrop(img, rng, size, scale, 'bicubic'), rng);
    v = randomBlur(v, rng, blurP);
    if (solarizeP > 0) v = randomSolarize(v, rng, solarizeP);
    return { size, data: toNormalizedCHW(v) };
  };
  const views = [view(o.globalSize, o.globalScale, 1.0, 0), view(o.globalSize, o.globalScale, 0.1, 0.2)];
  for (let i = 0; i < o.localCrops; i++) views.push(view(o.localSize, o.localScale, 0.5, 0));
  return views;
}

/**
 * MoBY's two views (docs/swin-moby.md §2): RandomResizedCrop(size, (0.08, 1), bilinear), flip,
 * ColorJitter p 0.8, grayscale 0.2; blur p 1.0 / 0.1; solarize only on view 2 (p 0.2).
 */
export function mobyViews(img: RGBImage, rng: Rng, size = 224): [View, View] {
  const v1 = randomBlur(flipAndColor(randomResizedCrop(img, rng, size, [0.08, 1], 'bilinear'), rng), rng, 1.0);
  const v2 = randomSolarize(randomBlur(flipAndColor(randomResizedCrop(img, rng, size, [0.08, 1], 'bilinear'), rng), rng, 0.1), rng, 0.2);
  return [
    { size, data: toNormalizedCHW(v1) },
    { size, data: toNormalizedCHW(v2) },
  ];
}

/**
 * The DAVIS evaluation transform (docs/selfpatch.md §8 `read_frame`): resize with OpenCV's bilinear to
 * the official frame size, ToTensor, normalise with std 0.228 for R. Returns CHW float32.
 */
export function davisEvalFrame(img: RGBImage, shortSide = 480): View & { width: number; height: number } {
  const { width, height } = davisFrameSize(img.width, img.height, shortSide);
  const resized = width === img.width && height === img.height ? img : cvResizeLinear(img, width, height);
  return { size: Math.max(width, height), width, height, data: toNormalizedCHW(resized, DAVIS_MEAN, DAVIS_STD) };
}
