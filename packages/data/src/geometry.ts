/**
 * Geometric ops and torchvision's RandomResizedCrop sampling (torchvision 0.14 `get_params`):
 * up to 10 tries of area ∈ U(scale)·area and log-uniform aspect ratio, `int(round(·))` with
 * Python's half-to-even rounding, uniform position; otherwise a centre crop clamped to the ratio
 * range. Randomness comes from a seeded {@link Rng}, so the draws (not the rule) differ from torch's.
 */
import type { Rng } from '@selfpatch/nn/base';
import { createImage, type RGBImage } from './image.js';
import { pilResize, type PilFilter } from './pil-resize.js';

/** Python 3 `round()`: halves to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

export function randomResizedCropParams(width: number, height: number, scale: [number, number], ratio: [number, number], rng: Rng): CropBox {
  const area = width * height;
  const logR: [number, number] = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniformRange(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniformRange(logR[0], logR[1]));
    const w = roundHalfEven(Math.sqrt(target * aspect));
    const h = roundHalfEven(Math.sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      return { top: rng.int(height - h + 1), left: rng.int(width - w + 1), height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w: number;
  let h: number;
  if (inRatio < Math.min(...ratio)) {
    w = width;
    h = roundHalfEven(w / Math.min(...ratio));
  } else if (inRatio > Math.max(...ratio)) {
    h = height;
    w = roundHalfEven(h * Math.max(...ratio));
  } else {
    w = width;
    h = height;
  }
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

/** PIL `crop` (the box must lie inside the image). */
export function crop(img: RGBImage, box: CropBox): RGBImage {
  const out = createImage(box.width, box.height);
  for (let y = 0; y < box.height; y++) {
    const src = ((box.top + y) * img.width + box.left) * 3;
    out.data.set(img.data.subarray(src, src + box.width * 3), y * box.width * 3);
  }
  return out;
}

/** `F.resized_crop` on PIL: crop, then PIL resize. */
export function resizedCrop(img: RGBImage, box: CropBox, outW: number, outH: number, filter: PilFilter = 'bicubic'): RGBImage {
  return pilResize(crop(img, box), outW, outH, filter);
}

export function hflip(img: RGBImage): RGBImage {
  const out = createImage(img.width, img.height);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const s = (y * img.width + x) * 3;
      const d = (y * img.width + (img.width - 1 - x)) * 3;
      out.data[d] = img.data[s] as number;
      out.data[d + 1] = img.data[s + 1] as number;
      out.data[d + 2] = img.data[s + 2] as number;
    }
  }
  return out;
}

/** `ToTensor` + `Normalize(mean, std)`: CHW float32. */
export function toNormalizedCHW(img: RGBImage, mean: readonly number[] = [0.485, 0.456, 0.406], std: readonly number[] = [0.229, 0.224, 0.225]): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) {
    const m = mean[c] as number;
    const s = std[c] as number;
    for (let i = 0; i < n; i++) out[c * n + i] = ((img.data[3 * i + c] as number) / 255 - m) / s;
  }
  return out;
}
