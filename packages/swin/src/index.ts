/**
 * @selfpatch/swin — Swin Transformer backbones with parity to the official Swin/MoBY code
 * (docs/swin-moby.md §1).
 */
export { SwinTransformer, type SwinFeatures } from './swin-transformer.js';
export { SwinBlock, effectiveWindow, type SwinBlockOptions } from './swin-block.js';
export { WindowAttention } from './window-attention.js';
export { PatchMerging } from './patch-merging.js';
export { windowPartition, windowReverse, relativePositionIndex, shiftMask } from './windows.js';
export { swinTiny, validateSwinConfig, numFeatures, type SwinConfig } from './config.js';
export { swinFromCheckpoint, swinFromStateDict, swinStateDictFrom, inferSwinConfig, isSwinStateDict } from './checkpoint.js';
