/**
 * @selfpatch/data — decoding and torchvision/PIL-faithful augmentation ops (SELFPATCH_SPEC §6).
 */
export { createImage, type RGBImage } from './image.js';
export { decodeImage, ImageDecodeError, type DecodeOptions } from './decode.js';
export { pilResize, type PilFilter } from './pil-resize.js';
export { luma, grayscale, adjustBrightness, adjustContrast, adjustSaturation, adjustHue, solarize } from './pil-color.js';
export { randomResizedCropParams, crop, resizedCrop, hflip, roundHalfEven, toNormalizedCHW, type CropBox } from './geometry.js';
