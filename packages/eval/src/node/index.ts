/**
 * @selfpatch/eval/node — file-based evaluation (Node): checkpoint loading for any backbone, the
 * DAVIS runner and scorer with its CSVs and palette PNGs, k-NN on folders and IDX files, and
 * attention / PCA images.
 */
export { loadBackboneFile } from './backbone-file.js';
export { loadBackbone, type DenseBackbone, type DenseFeatures, type LoadBackboneOptions } from '../backbone.js';
export {
  vocPalette,
  encodeIndexedPng,
  davisSequences,
  propagateSequence,
  runDavis,
  evaluateDavis,
  writeDavisCsv,
  countPredictions,
  type DavisRunOptions,
} from './davis.js';
export { folderFeatures, fashionMnistFeatures, evalTransform, type LabelledFeatures } from './knn-data.js';
export { visualizeImage, type VisualizeResult } from './visualize-files.js';
export { buildProgram, main } from './cli.js';
export { checkInputSide, checkpointOptions, intOption, MAX_IMAGE_SIDE, openCheckpoint, runCli, type CheckpointCliOptions, type InputSizeCheck } from './cli-common.js';
