/**
 * Geometric ops and torchvision's RandomResizedCrop sampling (torchvision 0.14 `get_params`):
 * up to 10 tries of area ∈ U(scale)·area and log-uniform aspect ratio, `int(round(·))` with
 * Python's half-to-even rounding, uniform position; otherwise a centre crop clamped to the ratio
 * range. Randomness comes from a seeded {@link Rng}, so the draws (not the rule) differ from torch's.
 */
import type { Rng } from '@selfpatch/nn/base';
import { createImage, type RGBImage } from './image.js';
import { Arena, imagePass } from './pil-kernels.js';
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
  return imagePass(img, (mod, src, dst) => mod.rgb_hflip(src, img.width, img.height, dst));
}

const f32 = Math.fround;
/** Tables per (mean, std): a recipe uses one or two. */
const tableCache = new Map<string, Float32Array>();

/**
 * The value of every byte per channel after torchvision's `ToTensor` + `Normalize(mean, std)`, in
 * their float32 order of operations: `(f32(v / 255) − f32(mean)) / f32(std)`, each step rounded to
 * float32 (each is a single IEEE operation, so rounding the double result once is exact).
 */
function normalizeTables(mean: readonly number[], std: readonly number[]): Float32Array {
  const key = `${mean.join(',')}/${std.join(',')}`;
  let t = tableCache.get(key);
  if (!t) {
    t = new Float32Array(3 * 256);
    for (let c = 0; c < 3; c++) {
      const m = f32(mean[c] as number);
      const s = f32(std[c] as number);
      for (let v = 0; v < 256; v++) t[c * 256 + v] = f32(f32(f32(v / 255) - m) / s);
    }
    tableCache.set(key, t);
  }
  return t;
}
/**
 * `ToTensor` + `Normalize(mean, std)`: CHW float32, bit-exact with torchvision (and with the
 * official DAVIS reader's numpy/torch float32 steps).
 */
export function toNormalizedCHW(img: RGBImage, mean: readonly number[] = [0.485, 0.456, 0.406], std: readonly number[] = [0.229, 0.224, 0.225]): Float32Array {
  const n = img.width * img.height;
  const arena = new Arena();
  const src = arena.copyIn(img.data);
  const tables = arena.float32(normalizeTables(mean, std));
  const dst = arena.alloc(12 * n);
  arena.mod.normalize_chw(src, n, tables, dst);
  return new Float32Array(arena.mod.memory.buffer, dst, 3 * n).slice();
}
