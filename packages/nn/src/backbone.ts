/**
 * The one interface every backbone (ViT, Swin) implements and every consumer (the SelfPatch
 * wrapper, MoBY, dense evaluation) uses: a patch-token grid, with the image-level class token when
 * the backbone has one.
 *
 * `tokens` are the features the official code hands to patch-level consumers: for ViT the last
 * block's tokens as `get_intermediate_layers(x, 1)[0]` returns them without the class token (raw in
 * the SelfPatch layout, after the final norm in the DINO layout; alinlab/SelfPatch
 * `selfpatch_vision_transformer.py`, facebookresearch/dino `vision_transformer.py`), for Swin the
 * last-stage tokens after the final norm (Transformer-SSL `swin_transformer.py` `forward_features`
 * before pooling).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Module } from './module.js';

export interface BackboneFeatures {
  /** `[B, h·w, C]` patch tokens, row-major over the grid. */
  tokens: tf.Tensor3D;
  /** The token grid of this input. */
  grid: { h: number; w: number };
  /** `[B, C]` class token (after the final norm) when the backbone has one (ViT, DINO layout). */
  cls?: tf.Tensor2D;
}

export interface Backbone extends Module {
  /** C, the width of the tokens. */
  readonly numFeatures: number;
  /** Pixels per grid cell of {@link BackboneFeatures.grid}. */
  readonly stride: number;
  /**
   * Patch tokens and grid of images `[B, 3, H, W]` (and the class token when there is one). The
   * caller owns the returned tensors.
   */
  forwardFeatures(x: tf.Tensor4D): BackboneFeatures;
  /** Last-block self-attention `[B, heads, N, N]` (ViT: all tokens; Swin: the windows of the last block). */
  getLastSelfAttention(x: tf.Tensor4D): tf.Tensor4D;
}

/**
 * One feature vector per image: the class token when the backbone has one, else the mean of the
 * patch tokens (Swin's pooled feature, as MoBY and k-NN use it). Disposes the features it reads.
 *
 * @example
 * ```ts
 * const emb = tf.tidy(() => imageFeature(vit.forwardFeatures(images))); // [B, C]
 * ```
 */
export function imageFeature(f: BackboneFeatures): tf.Tensor2D {
  if (f.cls) {
    f.tokens.dispose();
    return f.cls;
  }
  const out = tf.mean(f.tokens, 1) as tf.Tensor2D;
  f.tokens.dispose();
  return out;
}
