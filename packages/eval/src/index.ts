/**
 * @selfpatch/eval — evaluation of dense features (docs/selfpatch.md §8, docs/davis-eval.md): DAVIS label
 * propagation and its video loop, J&F, weighted k-NN, attention and PCA visualisations. Pure tfjs
 * (runs in browsers); file-based runners and the CLI live in `@selfpatch/eval/node`.
 */
export { labelPropagation, propagateMask, neighborhoodMask, upsampleBilinear, normMask, argmaxLabels, type PropagationOptions, type PropagationResult } from './label-propagation.js';
export { jaccard, seg2bmap, boundaryF, boundaryRadius, dbStatistics, type Mask, type Statistics } from './davis-metrics.js';
export { VideoPropagator, oneHotLabels, resizeLabelsNearest, nearestIndex, type VideoPropagationOptions } from './video-propagator.js';
export { knnClassify, knnClassifyMany, type KnnOptions, type KnnResult } from './knn.js';
export { attentionMaps, pcaRgb, type AttentionMapsResult } from './visualize.js';
export { loadBackbone, type DenseBackbone, type DenseFeatures, type ImageFeatureKind, type LoadBackboneOptions } from './backbone.js';
export { propagateVideo, type PropagateVideoOptions } from './propagate-video.js';
export { scoreSequence, summarizeScores, maxObjectId, GLOBAL_COLUMNS, type DavisScores, type ObjectScores, type Labels } from './davis-scores.js';
