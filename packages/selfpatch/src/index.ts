/**
 * @selfpatch/selfpatch — the paper's contribution (docs/selfpatch.md §2-4): neighbourhoods on any patch
 * grid, positive matching, the aggregation module and the patch-level loss, for any backbone that
 * exposes a patch grid and any image-level objective.
 */
export { neighbourhood, type Neighbourhood, type NeighbourhoodOptions, type NeighbourhoodKind, type BorderMode } from './neighbourhood.js';
export { shiftGrid } from './shift.js';
export { matchPositives, type MatchingOptions, type PositiveMatches } from './positive-matching.js';
export { gatherPositives } from './gather-positives.js';
export { ClassAttentionBlock } from './class-attention-block.js';
export { SelfPatchHead, type SelfPatchHeadOptions, type HeadForwardOptions, type HeadOutput, type Aggregation } from './selfpatch-head.js';
export { patchLoss, patchTargets, patchCrossEntropy, updatePatchCenter, type PatchLossOptions } from './patch-loss.js';
