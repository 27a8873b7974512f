/** The decoding error and options shared by the Node and browser decoders. */
import { SelfPatchError } from '@selfpatch/nn/base';

export class ImageDecodeError extends SelfPatchError {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: cannot decode image (${reason})`);
  }
}

/** An optional peer dependency this code path needs is not installed. */
export class MissingDependencyError extends SelfPatchError {
  constructor(
    readonly dependency: string,
    readonly purpose: string,
  ) {
    super(`'${dependency}' is not installed: it ${purpose}. Install it beside @selfpatch/data: npm install ${dependency}`);
  }
}

export interface DecodeOptions {
  /** Name for error messages. */
  source?: string;
  /** Refuse images with more pixels than this (default 2^28, as libvips). */
  maxPixels?: number;
}
