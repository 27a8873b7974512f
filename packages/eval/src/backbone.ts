/**
 * A dense-feature view of any backbone checkpoint the packages load (ViT in the SelfPatch or DINO
 * layout, Swin; `.pth` or safetensors; bare state dicts or training checkpoints): patch features
 * for label propagation and k-NN, and last-layer attention for attention maps.
 *
 * ViT features are the official `get_intermediate_layers(x, 1)[0]` (raw last-block tokens in the
 * SelfPatch layout; normed, CLS dropped, in the DINO layout). Swin features are the normed
 * last-stage tokens (stride 32).
 *
 * Image-level features (k-NN): with a SelfPatch aggregation module in the file (`ca_head.*`, as
 * selfpatch-train exports it), the method's own image token, `LN(Agg(X))` token 0 of the student
 * path (docs/selfpatch.md §2); else the class token (DINO layout) or the mean of the patch tokens.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointFormatError, imageFeature, withoutInit, type Backbone, type Module, type RawTensor } from '@selfpatch/nn';
import { parseCheckpoint, selectStateDict } from '@selfpatch/checkpoint';
import { inferVitConfig, VisionTransformer, vitStateDictFrom, type VitConfig } from '@selfpatch/vit';
import { isSwinStateDict, swinFromStateDict, swinStateDictFrom, type SwinConfig } from '@selfpatch/swin';
import { SelfPatchHead } from '@selfpatch/selfpatch';

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
  /** Image-level feature `[B, C]` for k-NN: see {@link ImageFeatureKind}. */
  embed(x: tf.Tensor4D): tf.Tensor2D;
  /** Which image-level feature {@link embed} returns. */
  readonly imageFeature: 'head' | 'cls' | 'mean';
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
  /**
   * Image-level feature for {@link DenseBackbone.embed}: `auto` (default) is the SelfPatch
   * aggregation head's image token when the file has `ca_head.*`, else the class token, else the
   * mean of the patch tokens; `head` requires the head; `mean` always mean-pools the patch tokens.
   */
  imageFeature?: ImageFeatureKind;
}

export type ImageFeatureKind = 'auto' | 'head' | 'mean';

/** The dense view of any {@link Backbone}: one implementation for ViT and Swin. */
class BackboneView implements DenseBackbone {
  readonly imageFeature: 'head' | 'cls' | 'mean';
  constructor(
    readonly kind: 'vit' | 'swin',
    readonly net: Backbone,
    readonly description: string,
    private readonly head: SelfPatchHead | null = null,
    mode: ImageFeatureKind = 'auto',
    hasCls = false,
  ) {
    this.imageFeature = mode === 'mean' ? 'mean' : head ? 'head' : hasCls ? 'cls' : 'mean';
  }
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
    return tf.tidy(() => {
      const f = this.net.forwardFeatures(x);
      if (this.imageFeature === 'head' && this.head) {
        const out = this.head.forward(f.tokens as tf.Tensor3D, { loc: false }).out;
        return tf.reshape(tf.slice(out, [0, 0, 0], [-1, 1, -1]), [out.shape[0], -1]) as tf.Tensor2D;
      }
      if (this.imageFeature === 'mean') return tf.mean(f.tokens, 1) as tf.Tensor2D;
      return imageFeature(f);
    });
  }
  attention(x: tf.Tensor4D): tf.Tensor4D {
    return this.net.getLastSelfAttention(x);
  }
  dispose(): void {
    this.net.dispose();
    this.head?.dispose();
  }
}

/**
 * The SelfPatch aggregation module stored beside a ViT (`ca_head.*`: in a training checkpoint's
 * teacher, or in a selfpatch-train export), or null.
 */
function aggregationHead(sd: Record<string, RawTensor>, config: VitConfig, source: string): SelfPatchHead | null {
  const prefix = 'ca_head.';
  const keys = Object.keys(sd).filter((k) => k.startsWith(prefix));
  if (keys.length === 0) return null;
  const depth = new Set(keys.map((k) => /^ca_head\.cls_blocks\.(\d+)\./.exec(k)?.[1]).filter((d) => d !== undefined)).size;
  const head = new SelfPatchHead(config.embedDim, { numHeads: config.numHeads, depth, eps: 1e-6 });
  const sub = Object.fromEntries(keys.map((k) => [k.slice(prefix.length), sd[k] as RawTensor]));
  head.loadStateDict(sub, { context: `${source} (ca_head)` });
  head.eval();
  return head;
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
    if (options.imageFeature === 'head') throw new CheckpointFormatError(source, 'imageFeature head: a Swin file has no SelfPatch aggregation head (ca_head.*)');
    return checked(new BackboneView('swin', swin, swinDescription(swin.config), null, options.imageFeature), swin, swinSd, source, options);
  }
  const sd = vitStateDictFrom(parsed, { which: options.which, source });
  const config = inferVitConfig(sd, options.numHeads ? { numHeads: options.numHeads } : {}, source);
  // Every backbone parameter is loaded below (a missing one is an error), so none is drawn.
  const vit = withoutInit(() => new VisionTransformer(config));
  // Non-strict like the official load_pretrained_weights: heads and ca_head are ignored.
  const res = vit.loadStateDict(sd, { strict: false, context: source });
  if (res.missing.length) throw new CheckpointFormatError(source, `ViT weights incomplete: missing ${res.missing.slice(0, 5).join(', ')}`);
  vit.eval();
  const head = options.imageFeature === 'mean' ? null : aggregationHead(selectStateDict(parsed, { key: options.which, stripPrefixes: ['module.'], source }), config, source);
  if (options.imageFeature === 'head' && !head) {
    vit.dispose();
    throw new CheckpointFormatError(source, 'imageFeature head: no SelfPatch aggregation head (ca_head.*) in the file; export it with selfpatch-train, or use auto/mean');
  }
  const view = new BackboneView('vit', vit, vitDescription(config) + (head ? ' + SelfPatch aggregation head' : ''), head, options.imageFeature, config.layout === 'dino');
  return checked(view, vit, sd, source, options);
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
