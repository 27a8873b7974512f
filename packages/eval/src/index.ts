/**
 * @selfpatch/eval — evaluation of dense features (SELFPATCH_SPEC §8, DAVIS_EVAL_SPEC).
 * First piece: DAVIS label propagation and its post-processing.
 */
export { labelPropagation, neighborhoodMask, upsampleBilinear, normMask, argmaxLabels, type PropagationOptions, type PropagationResult } from './label-propagation.js';
export { jaccard, seg2bmap, boundaryF, boundaryRadius, dbStatistics, type Mask, type Statistics } from './davis-metrics.js';
