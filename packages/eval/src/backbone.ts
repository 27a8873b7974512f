/**
 * A dense-feature view of any backbone checkpoint the packages load (ViT in the SelfPatch or DINO
 * layout, Swin; `.pth` or safetensors; bare state dicts or training checkpoints): patch features
 * for label propagation and k-NN, and last-layer attention for attention maps.
 *
 * ViT features are the official `get_intermediate_layers(x, 1)[0]` (raw last-block tokens in the
 * SelfPatch layout; normed, CLS dropped, in the DINO layout). Swin features are the normed
 * last-stage tokens (stride 32).
 */
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointFormatError, imageFeature, type Backbone, type Module, type RawTensor } from '@selfpatch/nn';
import { parseCheckpoint } from '@selfpatch/checkpoint';
import { inferVitConfig, VisionTransformer, vitStateDictFrom, type VitConfig } from '@selfpatch/vit';
import { isSwinStateDict, swinFromStateDict, swinStateDictFrom, type SwinConfig } from '@selfpatch/swin';

export interface DenseFeatures {
  /** `[h·w, C]` row-major patch features. */
  feats: tf.Tensor2D;
  h: number;
  w: number;
}

export interface DenseBackbone {
  readonly kind: 'vit' | 'swin';
  /** Output stride of the feature grid. */
  readonly stride: number;
  readonly description: string;
  /** Patch features of one image `[1, 3, H, W]` (H, W multiples of the stride for exact grids). */
  features(x: tf.Tensor4D): DenseFeatures;
  /** Image-level feature `[B, C]` (CLS token or pooled tokens) for k-NN. */
  embed(x: tf.Tensor4D): tf.Tensor2D;
  /** Last-block self-attention `[1, heads, N, N]` (ViT: all tokens; Swin: the windows of the last block). */
  attention(x: tf.Tensor4D): tf.Tensor4D;
  dispose(): void;
}

export interface LoadBackboneOptions {
  /** Training-checkpoint entry (`teacher` by default when present). */
  which?: string;
  /** ViT heads when the width matches no preset. */
  numHeads?: number;
  /** Load weights holding NaN or inf instead of refusing them. */
  allowNonFinite?: boolean;
}

/** The dense view of any {@link Backbone}: one implementation for ViT and Swin. */
class BackboneView implements DenseBackbone {
  constructor(
    readonly kind: 'vit' | 'swin',
    readonly net: Backbone,
    readonly description: string,
  ) {}
  get stride(): number {
    return this.net.stride;
  }
  features(x: tf.Tensor4D): DenseFeatures {
    const { tokens, grid, cls } = this.net.forwardFeatures(x);
    cls?.dispose();
    const feats = tf.reshape(tokens, [grid.h * grid.w, -1]) as tf.Tensor2D;
    tokens.dispose();
    return { feats, h: grid.h, w: grid.w };
  }
  embed(x: tf.Tensor4D): tf.Tensor2D {
    // The class token where there is one; else the mean of the patch tokens (the SelfPatch layout
    // has no class token; Swin's pooled feature).
    return tf.tidy(() => imageFeature(this.net.forwardFeatures(x)));
  }
  attention(x: tf.Tensor4D): tf.Tensor4D {
    return this.net.getLastSelfAttention(x);
  }
  dispose(): void {
    this.net.dispose();
  }
}

function vitDescription(c: VitConfig): string {
  return `ViT (${c.layout} layout, width ${c.embedDim}, depth ${c.depth}, ${c.numHeads} heads, patch ${c.patchSize})`;
}

function swinDescription(c: SwinConfig): string {
  return `Swin (embed ${c.embedDim}, depths [${c.depths.join(',')}], heads [${c.numHeads.join(',')}], window ${c.windowSize})`;
}

/**
 * Loads a backbone from checkpoint bytes, deciding ViT or Swin from the keys.
 *
 * @example
 * ```ts
 *  * const bytes = new Uint8Array(await (await fetch('teacher_backbone.safetensors')).arrayBuffer());
 * const net = loadBackbone(bytes, 'teacher_backbone.safetensors');
 * const { feats, h, w } = net.features(frame); // [h·w, C]
 * ```
 */
export function loadBackbone(bytes: Uint8Array, source: string, options: LoadBackboneOptions = {}): DenseBackbone {
  const parsed = parseCheckpoint(bytes, source);
  // Parsed once: a Swin (bare, or under MoBY's encoder_k./encoder. or backbone.) is recognised by its keys.
  const swinSd = swinStateDictFrom(parsed, { which: options.which, source });
  if (isSwinStateDict(swinSd)) {
    const swin = swinFromStateDict(swinSd, source);
    swin.eval();
    return checked(new BackboneView('swin', swin, swinDescription(swin.config)), swin, swinSd, source, options);
  }
  const sd = vitStateDictFrom(parsed, { which: options.which, source });
  const config = inferVitConfig(sd, options.numHeads ? { numHeads: options.numHeads } : {}, source);
  const vit = new VisionTransformer(config);
  // Non-strict like the official load_pretrained_weights: heads and ca_head are ignored.
  const res = vit.loadStateDict(sd, { strict: false, context: source });
  if (res.missing.length) throw new CheckpointFormatError(source, `ViT weights incomplete: missing ${res.missing.slice(0, 5).join(', ')}`);
  vit.eval();
  return checked(new BackboneView('vit', vit, vitDescription(config)), vit, sd, source, options);
}

/**
 * Refuses weights with NaN or ±inf, which give NaN features everywhere, silently; a diverged
 * run's checkpoint is the usual cause, so the message says so. Reads the parsed host arrays of the
 * parameters the backbone loaded (ignored heads do not count), never the backend's tensors.
 */
function checked(net: DenseBackbone, module: Module, sd: Record<string, RawTensor>, source: string, options: LoadBackboneOptions): DenseBackbone {
  if (options.allowNonFinite) return net;
  for (const [key] of module.namedParameters()) {
    const raw = sd[key];
    if (!raw || !(raw.data instanceof Float32Array || raw.data instanceof Float64Array)) continue;
    let bad = 0;
    for (const v of raw.data) if (!Number.isFinite(v)) bad++;
    if (bad > 0) {
      net.dispose();
      throw new CheckpointFormatError(source, `'${key}' holds ${bad} non-finite value(s) (NaN or inf): the run that wrote it diverged; use an earlier checkpoint`);
    }
  }
  return net;
}
