/**
 * DAVIS mask decoding from PNG bytes (Node and browsers): indexed palette PNGs keep their indices
 * (DAVIS-2017, multi-object); grayscale or RGB masks are binarised at half range (DAVIS-2016:
 * 0/255, one object) — docs/davis-eval.md §5.
 */
import { decode as decodePng } from 'fast-png';
import { SelfPatchError } from '@selfpatch/nn/base';

export interface LabelMap {
  width: number;
  height: number;
  /** Object index per pixel (0 = background). */
  labels: Uint8Array;
}

/** A mask file could not be decoded. */
export class MaskDecodeError extends SelfPatchError {
  constructor(
    readonly source: string,
    reason: string,
  ) {
    super(`${source}: cannot decode mask PNG (${reason})`);
  }
}

/**
 * @example
 * ```ts
 * const { labels, width, height } = decodeMask(new Uint8Array(await file.arrayBuffer()), file.name);
 * ```
 */
export function decodeMask(bytes: Uint8Array, source = '<mask>'): LabelMap {
  let png: ReturnType<typeof decodePng>;
  try {
    png = decodePng(bytes);
  } catch (err) {
    throw new MaskDecodeError(source, (err as Error).message);
  }
  const n = png.width * png.height;
  const labels = new Uint8Array(n);
  const data = png.data as ArrayLike<number>;
  if (png.palette) {
    for (let i = 0; i < n; i++) labels[i] = data[i] as number;
  } else {
    const ch = png.channels;
    const max = png.depth === 16 ? 65535 : 255;
    for (let i = 0; i < n; i++) labels[i] = (data[i * ch] as number) > max / 2 ? 1 : 0;
  }
  return { width: png.width, height: png.height, labels };
}
