/**
 * @selfpatch/vit — Vision Transformer backbones with exact parity to the official SelfPatch and
 * DINO code (docs/selfpatch.md §1).
 */
export { VisionTransformer, type VitOptions, type PreparedTokens } from './vision-transformer.js';
export { Block, type BlockOptions } from './block.js';
export { vitConfig, validateVitConfig, VIT_ARCHS, type VitConfig, type VitLayout, type VitArch } from './config.js';
export { interpolatePosEmbed, bicubicWeights } from './pos-embed.js';
export { PatchEmbed, patchify, patchGrid, type PatchGrid } from '@selfpatch/nn';
export { vitStateDictFrom, inferVitConfig, vitFromCheckpoint, loadVitWeights, exportVitStateDict, type VitWeightsOptions } from './checkpoint.js';
