/**
 * @selfpatch/nn — tensor building blocks on `@tensorflow/tfjs-core`.
 *
 * Importing this package registers tfjs-core's gradients (under Node they are otherwise missing,
 * docs/tfjs-backends.md §1.4), so every package built on it can differentiate on every backend.
 */
import '#register-gradients';

export * from './errors.js';
export { Rng, type RngState } from './rng.js';
export { globalRng, manualSeed } from './rng-default.js';
export { erfinv, truncNormal, uniformInit, defaultLinearInit, withoutInit, type TruncNormalOptions } from './init.js';
export { imageFeature, type Backbone, type BackboneFeatures } from './backbone.js';
export { Module, type StateDict, type TensorLike, type LoadStateDictOptions, type LoadStateDictResult } from './module.js';
export { matmul2d, linear, transposeFlagsFree } from './ops/matmul.js';
export { inferenceLinear, inferenceLinearAvailable, inferenceLinearGelu, inferenceLinearGeluAvailable } from './ops/inference-linear.js';
export { inferenceBlock, inferenceBlockAvailable, type AffineWeights, type InferenceBlockSettings, type InferenceBlockWeights } from './ops/inference-block.js';
export { gelu } from './ops/gelu.js';
export { stopGradient } from './ops/stop-gradient.js';
export { l2norm, l2normalize } from './ops/normalize.js';
export { defineOp, defineOpFamily, type OpBody, type GradFn } from './ops/custom-op.js';
export { layerNorm } from './ops/layer-norm.js';
export { attentionFromQkv, attentionFromQkvAvailable, attentionWithBias, scaledDotProductAttention, singleQueryAttention, usesSlicedAttention, type AttentionResult } from './ops/attention.js';
export { Linear, type LinearOptions, type LinearInit } from './layers/linear.js';
export { DerivedTensors } from './derived-tensors.js';
export { LayerNorm } from './layers/layer-norm.js';
export { Mlp, type MlpOptions } from './layers/mlp.js';
export { Attention, type AttentionOptions, type AttentionOutput } from './layers/attention.js';
export { ClassAttention, type ClassAttentionOptions } from './layers/class-attention.js';
export { DropPath, dropPath } from './layers/drop-path.js';
export { BatchNorm1d, type BatchNormOptions } from './layers/batch-norm.js';
export { PatchEmbed, patchify, patchGrid, type PatchGrid } from './layers/patch-embed.js';
export { roll } from './ops/roll.js';
export { fusedAdamW, fusedEma, hasFusedKernel, FUSED_KERNEL_NAMES, type AdamWScalars } from './kernels.js';
export { withWeightCache, weightCacheEnabled } from './ops/weight-cache.js';
export { rawStateDict, rawToTensor, tensorToRaw } from './raw-tensor.js';
export type { RawTensor, RawDType } from '@selfpatch/checkpoint';
