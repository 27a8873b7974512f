/**
 * The PIL passes that run in wasm (csrc/: the resampling passes with SIMD, the box-blur passes,
 * an RGB transpose, the colour passes and ToTensor/Normalize), compiled by scripts/build-wasm.mjs
 * and embedded base64 so Node, worker and browser bundles need no asset. PIL runs these loops as
 * compiled C; V8's code over the same integer sums measured 2-4× slower (the float HSV round trip
 * of adjust_hue about 10×), and together they are most of the multi-crop recipe's time. Each call
 * copies its image in and the result out (memcpy-speed passes).
 *
 * The module's memory grows to the largest call seen (a few times the image's bytes) and is reused.
 */
import { createImage, type RGBImage } from './image.js';
import { PIL_KERNELS_WASM } from './pil-kernels-wasm.js';

export interface PilKernels {
  memory: WebAssembly.Memory;
  resample_rows(src: number, width: number, dst: number, outRows: number, bounds: number, kk: number, ksize: number): void;
  transpose_rgb(src: number, width: number, height: number, dst: number): void;
  box_blur_rows(buf: number, width: number, height: number, floatRadius: number, line: number): void;
  box_blur_cols(src: number, stride: number, height: number, floatRadius: number, dst: number): void;
  rgb_hue(src: number, pixels: number, shift: number, dst: number): void;
  rgb_blend_luma(src: number, pixels: number, alpha: number, clip: number, dst: number): void;
  luma_sum(src: number, pixels: number): number;
  rgb_grayscale(src: number, pixels: number, dst: number): void;
  map_bytes(src: number, bytes: number, table: number, dst: number): void;
  rgb_hflip(src: number, width: number, height: number, dst: number): void;
  normalize_chw(src: number, pixels: number, tables: number, dst: number): void;
}

let kernels: PilKernels | null = null;

export function pilKernels(): PilKernels {
  if (!kernels) {
    // Synchronous compilation of a ~15 KB module: allowed everywhere, a browser's main thread too (Chromium: tested).
    const bin = atob(PIL_KERNELS_WASM);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    kernels = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as unknown as PilKernels;
  }
  return kernels;
}

/** Bump allocation in the module's memory for one call: above the 64 KB stack, 16-byte aligned. */
export class Arena {
  private at = 1 << 16;
  readonly mod = pilKernels();
  alloc(bytes: number): number {
    const p = this.at;
    this.at += Math.ceil(bytes / 16) * 16;
    const have = this.mod.memory.buffer.byteLength;
    if (this.at > have) this.mod.memory.grow(Math.ceil((this.at - have) / 65536));
    return p;
  }
  /** A view of `n` bytes at `p` (take it after the last `alloc`: growing detaches older views). */
  bytes(p: number, n: number): Uint8Array {
    return new Uint8Array(this.mod.memory.buffer, p, n);
  }
  /** Copies `values` in; returns their address. */
  int32(values: Int32Array): number {
    const p = this.alloc(values.byteLength);
    new Int32Array(this.mod.memory.buffer, p, values.length).set(values);
    return p;
  }
  /** Copies `values` in; returns their address. */
  float32(values: Float32Array): number {
    const p = this.alloc(values.byteLength);
    new Float32Array(this.mod.memory.buffer, p, values.length).set(values);
    return p;
  }
  /** Copies `data` in; returns its address. */
  copyIn(data: Uint8Array): number {
    const p = this.alloc(data.length);
    this.bytes(p, data.length).set(data);
    return p;
  }
}

/**
 * Runs a pass from one image into a new image of the same size: copies the input in, calls
 * `pass(mod, src, dst, arena)` (the arena for any extra buffer, such as a table), copies the
 * result out.
 */
export function imagePass(img: RGBImage, pass: (mod: PilKernels, src: number, dst: number, arena: Arena) => void): RGBImage {
  const arena = new Arena();
  const src = arena.copyIn(img.data);
  const dst = arena.alloc(img.data.length);
  pass(arena.mod, src, dst, arena);
  const out = createImage(img.width, img.height);
  out.data.set(arena.bytes(dst, img.data.length));
  return out;
}
