/**
 * A whole video through the official propagation loop (docs/selfpatch.md §8): each frame decoded,
 * put through the DAVIS frame transform, featurised by the backbone, propagated from the first
 * mask and the queue, and the label map returned at the frame's own size. One implementation for
 * the Node runners and the browser app, so both give the same masks on the same input.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@selfpatch/nn';
import { davisEvalFrame, type RGBImage } from '@selfpatch/data';
import type { DenseBackbone } from './backbone.js';
import { maxObjectId, type Labels } from './davis-scores.js';
import { oneHotLabels, resizeLabelsNearest, VideoPropagator, type VideoPropagationOptions } from './video-propagator.js';

export interface PropagateVideoOptions extends Omit<VideoPropagationOptions, 'patchSize'> {
  /** Frame short side (480, the official size). */
  shortSide?: number;
}

/**
 * Yields the label map of frames 1..N−1 (frame 0 is the given mask), each at the frame's size.
 *
 * @param frames loaders of every frame, the first included (decoded lazily, one at a time).
 * @example
 * ```ts
 * const frames = files.map((f) => () => decodeImage(f));
 * for await (const { index, labels } of propagateVideo(net, firstMask, frames)) save(index, labels);
 * ```
 */
export async function* propagateVideo(
  net: DenseBackbone,
  firstMask: Labels,
  frames: Array<() => Promise<RGBImage>>,
  options: PropagateVideoOptions = {},
): AsyncGenerator<{ index: number; labels: Uint8Array; width: number; height: number }> {
  const shortSide = options.shortSide ?? 480;
  const featuresOf = async (load: () => Promise<RGBImage>) => {
    const img = await load();
    const v = davisEvalFrame(img, shortSide);
    const x = tf.tensor4d(v.data, [1, 3, v.height, v.width]);
    const d = net.features(x);
    x.dispose();
    return { ...d, width: img.width, height: img.height };
  };
  const first = await featuresOf(frames[0] as () => Promise<RGBImage>);
  if (firstMask.width !== first.width || firstMask.height !== first.height) {
    first.feats.dispose();
    throw new ShapeError(`the first-frame mask is ${firstMask.width}x${firstMask.height}, the first frame ${first.width}x${first.height}`);
  }
  const small = resizeLabelsNearest(firstMask.labels, firstMask.width, firstMask.height, first.w, first.h);
  const seg0 = oneHotLabels(small, first.h, first.w, maxObjectId(firstMask) + 1);
  const prop = new VideoPropagator(first.feats, seg0, { h: first.h, w: first.w }, { ...options, patchSize: net.stride });
  tf.dispose([first.feats, seg0]);
  try {
    for (let i = 1; i < frames.length; i++) {
      const f = await featuresOf(frames[i] as () => Promise<RGBImage>);
      const step = prop.step(f.feats);
      f.feats.dispose();
      if (f.width !== first.width || f.height !== first.height) {
        step.dispose();
        throw new ShapeError(`frame ${i} is ${f.width}x${f.height}, the first ${first.width}x${first.height}`);
      }
      const [lh, lw] = step.shape;
      const small = Uint8Array.from(await step.data());
      step.dispose();
      yield { index: i, labels: resizeLabelsNearest(small, lw, lh, f.width, f.height), width: f.width, height: f.height };
    }
  } finally {
    prop.dispose();
  }
}
