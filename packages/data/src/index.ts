/**
 * @selfpatch/data — decoding and torchvision/PIL-faithful augmentation ops (docs/selfpatch.md §6).
 */
export * from './common.js';
export { decodeImage } from './decode.js';
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
  type IdxArray,
  type FashionMnist,
} from './datasets.js';
export { DataLoader, NotEnoughImagesError, type LoaderOptions, type LoaderState, type Batch, type SkippedFile } from './loader.js';
export { sampleRng, type RecipeSpec } from './augment-job.js';
export { demoImagesDir, demoVideoDir } from './demo.js';
