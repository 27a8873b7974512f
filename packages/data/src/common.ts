/** Exports shared by the Node and browser entries: image type, PIL ops, recipes, DAVIS transform. */
export { createImage, type RGBImage } from './image.js';
// The seeded generator every random transform takes, so a data user needs no other package.
export { Rng, type RngState } from '@selfpatch/nn/base';
export { ImageDecodeError, MissingDependencyError, type DecodeOptions } from './decode-error.js';
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
export { decodeMask, MaskDecodeError, type LabelMap } from './mask.js';
