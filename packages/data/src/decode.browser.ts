/**
 * Image decoding in browsers and workers, behind the same `decodeImage` interface as the Node
 * build: the browser's decoder (`createImageBitmap`, which applies EXIF orientation) drawn on an
 * `OffscreenCanvas`, alpha dropped like PIL's `convert('RGB')`. Colour management is the
 * browser's (`colorSpaceConversion: 'none'` keeps the file's values). Known difference: a canvas
 * stores premultiplied alpha, so the RGB of *semi-transparent* pixels is not recoverable exactly
 * (fully transparent ones read as black); opaque pixels decode exactly as in Node.
 */
import { ImageDecodeError, type DecodeOptions } from './decode-error.js';
import type { RGBImage } from './image.js';


export async function decodeImage(input: Uint8Array | Blob, options: DecodeOptions = {}): Promise<RGBImage> {
  const source = options.source ?? '<blob>';
  const maxPixels = options.maxPixels ?? 2 ** 28;
  const blob = input instanceof Blob ? input : new Blob([input as unknown as BlobPart]);
  if (blob.size === 0) throw new ImageDecodeError(source, 'empty file');
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none', imageOrientation: 'from-image' });
  } catch (err) {
    throw new ImageDecodeError(source, (err as Error).message || 'not a decodable image');
  }
  const { width, height } = bitmap;
  if (width * height > maxPixels) {
    bitmap.close();
    throw new ImageDecodeError(source, `more than ${maxPixels} pixels`);
  }
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new ImageDecodeError(source, 'no 2D canvas context');
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    data[j] = rgba[i] as number;
    data[j + 1] = rgba[i + 1] as number;
    data[j + 2] = rgba[i + 2] as number;
  }
  return { width, height, data };
}
