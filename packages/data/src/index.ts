/**
 * @selfpatch/data — decoding and torchvision/PIL-faithful augmentation ops (SELFPATCH_SPEC §6).
 */
export { createImage, type RGBImage } from './image.js';
export { decodeImage, ImageDecodeError, type DecodeOptions } from './decode.js';
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
export {
  imageFolder,
  davisDataset,
  readMask,
  readIdx,
  fashionMnist,
  DatasetError,
  IMAGE_EXTENSIONS,
  type ImageFolder,
  type ImageSample,
  type DavisSequence,
  type DavisOptions,
  type LabelMap,
  type IdxArray,
  type FashionMnist,
} from './datasets.js';
export { DataLoader, type LoaderOptions, type LoaderState, type Batch, type SkippedFile } from './loader.js';
export { sampleRng, type RecipeSpec } from './augment-job.js';
export { demoImagesDir } from './demo.js';
export { cvResizeLinear, davisFrameSize, DAVIS_MEAN, DAVIS_STD } from './cv-resize.js';
