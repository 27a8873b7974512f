/**
 * Image decoding for Node with `sharp` (libvips): JPEG, PNG, WebP, GIF, TIFF, AVIF. Grayscale and
 * CMYK are converted to sRGB, 16-bit to 8-bit, alpha is dropped (like PIL's `convert('RGB')`, which
 * torchvision's loader uses), and EXIF orientation is applied (torchvision's loader does not; a
 * rotated phone photo should not train sideways). Failures raise {@link ImageDecodeError} naming
 * the file; absurd dimensions are refused before decoding.
 *
 * `sharp` is an optional peer dependency (a native binary browser users should not install), loaded
 * on the first decode; without it decoding raises {@link MissingDependencyError} naming it.
 */
import type sharpType from 'sharp';
import { ImageDecodeError, MissingDependencyError, type DecodeOptions } from './decode-error.js';
import type { RGBImage } from './image.js';

type Sharp = typeof sharpType;
let sharpModule: Promise<Sharp> | null = null;

function loadSharp(): Promise<Sharp> {
  sharpModule ??= import('sharp').then(
    (m) => m.default,
    (err: unknown) => {
      const code = (err as { code?: string }).code;
      if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') throw new MissingDependencyError('sharp', 'decodes images in Node');
      throw err;
    },
  );
  return sharpModule;
}

/**
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * const img = await decodeImage(readFileSync('photo.jpg'), { source: 'photo.jpg' });
 * console.log(img.width, img.height); // data: RGB bytes
 * ```
 */
export async function decodeImage(input: Uint8Array | string, options: DecodeOptions = {}): Promise<RGBImage> {
  const source = options.source ?? (typeof input === 'string' ? input : '<buffer>');
  const maxPixels = options.maxPixels ?? 2 ** 28;
  if (typeof input !== 'string' && input.length === 0) throw new ImageDecodeError(source, 'empty file');
  const sharp = await loadSharp();
  try {
    const img = sharp(input, { failOn: 'error', limitInputPixels: maxPixels, sequentialRead: true });
    const { data, info } = await img.rotate().toColourspace('srgb').removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`unexpected ${info.channels} channels after conversion`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (err) {
    const msg = (err as Error).message ?? String(err);
    throw new ImageDecodeError(source, /pixel limit/i.test(msg) ? `more than ${maxPixels} pixels` : /unsupported image format/i.test(msg) ? 'not an image (unrecognised format)' : msg.split('\n')[0] ?? msg);
  }
}
