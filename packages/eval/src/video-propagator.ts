/**
 * The official video-segmentation loop around label propagation (docs/selfpatch.md §8 "Loop";
 * `eval_video_segmentation.py`): the first frame's features and one-hot mask stay in the context;
 * a FIFO holds the last `n_last_frames` (features, soft mask) pairs; each new frame is propagated
 * from `[first] + queue`, pushed (low-resolution, un-normalised soft mask), then upsampled ×P
 * bilinearly, `norm_mask`-ed and arg-maxed; the label map is finally resized to the original frame
 * size with PIL's NEAREST rule.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@selfpatch/nn';
import { argmaxLabels, normMask, propagateMask, upsampleBilinear } from './label-propagation.js';

export interface VideoPropagationOptions {
  /** Backbone stride (patch size; 32 for a Swin last stage). */
  patchSize: number;
  /** Queue length (7). */
  nLastFrames?: number;
  /** size_mask_neighborhood (12). */
  radius?: number;
  /** topk (5). */
  topk?: number;
  temperature?: number;
}

/** PIL `Image.resize(..., NEAREST)` source index per output index: ⌊(o + ½)·in/out⌋. */
export function nearestIndex(inSize: number, outSize: number): Int32Array {
  const idx = new Int32Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) idx[o] = Math.min(inSize - 1, Math.floor((o + 0.5) * scale));
  return idx;
}

/** Resizes a label map with PIL's NEAREST rule (what the reference uses for masks). */
export function resizeLabelsNearest(labels: ArrayLike<number>, w: number, h: number, outW: number, outH: number): Uint8Array {
  const xs = nearestIndex(w, outW);
  const ys = nearestIndex(h, outH);
  const out = new Uint8Array(outW * outH);
  for (let y = 0; y < outH; y++) {
    const row = (ys[y] as number) * w;
    for (let x = 0; x < outW; x++) out[y * outW + x] = labels[row + (xs[x] as number)] as number;
  }
  return out;
}

/** `to_one_hot`: `[K, h, w]` with K = max label + 1 (or `k`). */
export function oneHotLabels(labels: ArrayLike<number>, h: number, w: number, k?: number): tf.Tensor3D {
  let max = 0;
  for (let i = 0; i < labels.length; i++) max = Math.max(max, labels[i] as number);
  const K = k ?? max + 1;
  if (max >= K) throw new ShapeError(`label ${max} does not fit ${K} classes`);
  const data = new Float32Array(K * h * w);
  for (let i = 0; i < h * w; i++) data[(labels[i] as number) * h * w + i] = 1;
  return tf.tensor3d(data, [K, h, w]);
}

/**
 * Propagates a first-frame mask through a video, one frame at a time.
 *
 * @example
 * ```ts
 * const prop = new VideoPropagator(firstFeats, oneHotLabels(small, h, w), { h, w }, { patchSize: 16 });
 * for (const feats of laterFrameFeatures) {
 *   const labels = prop.step(feats); // [h·16, w·16] int32 class per pixel
 *   labels.dispose();
 * }
 * prop.dispose();
 * ```
 */
export class VideoPropagator {
  private readonly first: { feats: tf.Tensor2D; seg: tf.Tensor3D };
  private readonly queue: Array<{ feats: tf.Tensor2D; seg: tf.Tensor3D }> = [];
  private readonly o: Required<VideoPropagationOptions>;

  /**
   * @param firstFeats `[h·w, C]` first-frame features (row-major patches).
   * @param firstSeg `[K, h, w]` one-hot first mask at the feature resolution.
   */
  constructor(
    firstFeats: tf.Tensor2D,
    firstSeg: tf.Tensor3D,
    readonly grid: { h: number; w: number },
    options: VideoPropagationOptions,
  ) {
    this.o = { nLastFrames: 7, radius: 12, topk: 5, temperature: 0.1, ...options };
    if (!Number.isInteger(this.o.nLastFrames) || this.o.nLastFrames < 0) throw new ConfigError('n_last_frames', `must be a non-negative integer, got ${this.o.nLastFrames}`);
    if (firstFeats.shape[0] !== grid.h * grid.w) throw new ShapeError(`first-frame features have ${firstFeats.shape[0]} rows, grid ${grid.h}x${grid.w}`);
    if (firstSeg.shape[1] !== grid.h || firstSeg.shape[2] !== grid.w) throw new ShapeError(`first mask is ${firstSeg.shape.slice(1).join('x')}, grid ${grid.h}x${grid.w}`);
    // Contexts are stored `[C, h·w]`, the layout propagateMask takes its sources in.
    this.first = { feats: tf.keep(tf.transpose(firstFeats)), seg: tf.keep(firstSeg.clone()) };
  }

  /** Number of classes (background included). */
  get numClasses(): number {
    return this.first.seg.shape[0];
  }

  /** Propagates to the next frame's features `[h·w, C]`; returns `[hP, wP]` int32 labels (caller disposes). */
  step(feats: tf.Tensor2D): tf.Tensor2D {
    const ctx = [this.first, ...this.queue];
    const seg = propagateMask(
      feats,
      ctx.map((c) => c.feats),
      ctx.map((c) => c.seg),
      { h: this.grid.h, w: this.grid.w, radius: this.o.radius, topk: this.o.topk, temperature: this.o.temperature },
    );
    if (this.o.nLastFrames > 0) {
      if (this.queue.length === this.o.nLastFrames) {
        const old = this.queue.shift();
        if (old) tf.dispose([old.feats, old.seg]);
      }
      this.queue.push({ feats: tf.keep(tf.transpose(feats)), seg: tf.keep(seg) });
    }
    const labels = tf.tidy(() => argmaxLabels(normMask(upsampleBilinear(seg, this.o.patchSize))));
    if (this.o.nLastFrames === 0) seg.dispose();
    return labels;
  }

  dispose(): void {
    tf.dispose([this.first.feats, this.first.seg, ...this.queue.flatMap((q) => [q.feats, q.seg])]);
    this.queue.length = 0;
  }
}
