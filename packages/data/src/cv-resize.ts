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
  // Horizontal pass for every source row (values scaled by 2048).
  const rows = new Int32Array(h * outW * 3);
  for (let y = 0; y < h; y++) {
    for (let dx = 0; dx < outW; dx++) {
      const s = X.ofs[dx] as number;
      const s1 = Math.min(s + 1, w - 1);
      const a0 = X.w0[dx] as number;
      const a1 = X.w1[dx] as number;
      for (let c = 0; c < 3; c++) {
        rows[(y * outW + dx) * 3 + c] = (data[(y * w + s) * 3 + c] as number) * a0 + (data[(y * w + s1) * 3 + c] as number) * a1;
      }
    }
  }
  const out = createImage(outW, outH);
  for (let dy = 0; dy < outH; dy++) {
    const sy = Y.ofs[dy] as number;
    const r0 = sy;
    const r1 = Math.min(sy + 1, h - 1);
    const b0 = Y.w0[dy] as number;
    const b1 = Y.w1[dy] as number;
    const n = outW * 3;
    // OpenCV's SIMD vertical pass (x86): inputs pre-shifted by 4 and packed to int16, high-half
    // 16-bit products, +2 and >>2 — applied to whole vectors of 16 values; the tail uses the
    // scalar formula (22-bit rounding). The two differ by ±1 on some values, so both are kept.
    const simdEnd = n - (n % 16);
    for (let i = 0; i < n; i++) {
      const a = rows[r0 * n + i] as number;
      const b = rows[r1 * n + i] as number;
      let v: number;
      if (i < simdEnd) {
        const hi = (x: number, k: number) => Math.floor((sat16(x >> 4) * k) / 65536);
        v = sat16(sat16(hi(a, b0) + hi(b, b1)) + 2) >> 2;
      } else {
        v = Math.floor((a * b0 + b * b1 + 2097152) / 4194304);
      }
      out.data[dy * n + i] = v < 0 ? 0 : v > 255 ? 255 : v;
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
