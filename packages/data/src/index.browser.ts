/**
 * Browser entry of @selfpatch/data: the same image type, ops and recipes; decoding through the
 * browser's own decoder. (Datasets and the worker-thread loader read the file system: Node only.)
 */
export { createImage, type RGBImage } from './image.js';
export { decodeImage, ImageDecodeError, type DecodeOptions } from './decode.browser.js';
export { pilResize, type PilFilter } from './pil-resize.js';
export { gaussianBlur, gaussianBoxRadius } from './pil-blur.js';
export { luma, grayscale, adjustBrightness, adjustContrast, adjustSaturation, adjustHue, solarize } from './pil-color.js';
export { randomResizedCropParams, crop, resizedCrop, hflip, roundHalfEven, toNormalizedCHW, type CropBox } from './geometry.js';
export {
  colorJitter,
  flipAndColor,
  randomBlur,
  randomSolarize,
  randomResizedCrop,
  multiCrop,
  mobyViews,
  davisEvalFrame,
  SELFPATCH_JITTER,
  SELFPATCH_MULTICROP,
  type ColorJitterOptions,
  type MultiCropOptions,
  type View,
} from './transforms.js';
export { cvResizeLinear, davisFrameSize, DAVIS_MEAN, DAVIS_STD } from './cv-resize.js';
