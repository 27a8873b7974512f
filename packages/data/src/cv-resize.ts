/**
 * `cv2.resize(img, (w, h))` with the default INTER_LINEAR for 8-bit images, as the official DAVIS
 * evaluation reads frames (docs/selfpatch.md §8 `read_frame`): half-pixel source coordinates in float,
 * 11-bit fixed-point weights, a horizontal pass to int then a vertical pass rounded at 22 bits,
 * borders clamped. Verified against Debian's python3-opencv in the tests.
 */
import { ConfigError } from '@selfpatch/nn/base';
import { createImage, type RGBImage } from './image.js';

const COEF = 2048;

/** Banker's rounding to int, as `cvRound` under the default FP mode. */
function cvRound(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function axis(inSize: number, outSize: number): { ofs: Int32Array; w0: Int32Array; w1: Int32Array } {
  const scale = inSize / outSize;
  const ofs = new Int32Array(outSize);
  const w0 = new Int32Array(outSize);
  const w1 = new Int32Array(outSize);
  for (let d = 0; d < outSize; d++) {
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = Math.fround(f - s);
    if (s < 0) {
      f = 0;
      s = 0;
    }
    if (s >= inSize - 1) {
      f = 0;
      s = inSize - 1;
    }
    ofs[d] = s;
    w0[d] = cvRound(Math.fround(1 - f) * COEF);
    w1[d] = cvRound(f * COEF);
  }
  return { ofs, w0, w1 };
}

function sat16(x: number): number {
  return x < -32768 ? -32768 : x > 32767 ? 32767 : x;
}

/**
 * @example
 * ```ts
 * const frame = cvResizeLinear(img, 832, 480); // DAVIS 854×480 → 832×480
 * ```
 */
export function cvResizeLinear(img: RGBImage, outW: number, outH: number): RGBImage {
  const { width: w, height: h, data } = img;
  const X = axis(w, outW);
  const Y = axis(h, outH);
  const n = outW * 3;
  // Horizontal pass for every source row (values scaled by 2048). Integer arithmetic throughout:
  // every intermediate fits in int32, so `>>` is the floor division OpenCV's shifts are.
  const rows = new Int32Array(h * n);
  for (let y = 0; y < h; y++) {
    const src = y * w * 3;
    const dst = y * n;
    for (let dx = 0; dx < outW; dx++) {
      const s0 = src + (X.ofs[dx] as number) * 3;
      const s1 = src + Math.min((X.ofs[dx] as number) + 1, w - 1) * 3;
      const a0 = X.w0[dx] as number;
      const a1 = X.w1[dx] as number;
      const o = dst + dx * 3;
      rows[o] = (data[s0] as number) * a0 + (data[s1] as number) * a1;
      rows[o + 1] = (data[s0 + 1] as number) * a0 + (data[s1 + 1] as number) * a1;
      rows[o + 2] = (data[s0 + 2] as number) * a0 + (data[s1 + 2] as number) * a1;
    }
  }
  const out = createImage(outW, outH);
  const od = out.data;
  // OpenCV's SIMD vertical pass (x86): inputs pre-shifted by 4 and packed to int16, high-half
  // 16-bit products, +2 and >>2, applied to whole vectors of 16 values; the tail uses the scalar
  // formula (22-bit rounding). The two differ by ±1 on some values, so both are kept.
  const simdEnd = n - (n % 16);
  for (let dy = 0; dy < outH; dy++) {
    const r0 = (Y.ofs[dy] as number) * n;
    const r1 = Math.min((Y.ofs[dy] as number) + 1, h - 1) * n;
    const b0 = Y.w0[dy] as number;
    const b1 = Y.w1[dy] as number;
    const o = dy * n;
    for (let i = 0; i < simdEnd; i++) {
      const a = sat16((rows[r0 + i] as number) >> 4);
      const b = sat16((rows[r1 + i] as number) >> 4);
      const v = sat16(sat16(((a * b0) >> 16) + ((b * b1) >> 16)) + 2) >> 2;
      od[o + i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    for (let i = simdEnd; i < n; i++) {
      const v = Math.floor(((rows[r0 + i] as number) * b0 + (rows[r1 + i] as number) * b1 + 2097152) / 4194304);
      od[o + i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}

/**
 * The official frame size rule: landscape → height 480, width `⌊480·W/H / 64⌋·64`; portrait →
 * width 480, height `⌊480·H/W / 64⌋·64` (only the long side is floored to a multiple of 64).
 * Another `shortSide` scales the rule for quicker runs.
 */
export function davisFrameSize(width: number, height: number, shortSide = 480): { width: number; height: number } {
  if (!Number.isInteger(shortSide) || shortSide < 64) throw new ConfigError('short_side', `must be an integer >= 64, got ${shortSide}`);
  // The long side keeps at least 64 px when a small shortSide meets an extreme aspect ratio.
  const long = (a: number, b: number) => Math.max(64, Math.floor((shortSide * a) / b / 64) * 64);
  if (height > width) return { width: shortSide, height: long(height, width) };
  return { width: long(width, height), height: shortSide };
}

/** DAVIS evaluation normalisation: mean (0.485, 0.456, 0.406), std (0.228, 0.224, 0.225). */
export const DAVIS_MEAN = [0.485, 0.456, 0.406] as const;
export const DAVIS_STD = [0.228, 0.224, 0.225] as const;
