/**
 * Image-level features for k-NN (DINO `eval_knn.py` transform: Resize(256·s/224, bicubic) →
 * CenterCrop(s) → ToTensor → Normalize(ImageNet), s = 224 by default) from a labelled image folder
 * (`root/<class>/*.jpg`) or Fashion-MNIST IDX files (grey replicated to RGB).
 */
import * as tf from '@tensorflow/tfjs-core';
import { createImage, crop, decodeImage, fashionMnist, imageFolder, pilResize, roundHalfEven, toNormalizedCHW, type RGBImage } from '@selfpatch/data';
import type { DenseBackbone } from '../backbone.js';

export interface LabelledFeatures {
  feats: tf.Tensor2D;
  labels: Int32Array;
  classes: string[];
  /** Files that could not be decoded (skipped). */
  skipped: string[];
}

/** Short side to `round(size·256/224)` (bicubic), then the centred `size`×`size` crop, normalised. */
export function evalTransform(img: RGBImage, size: number): Float32Array {
  const short = Math.round((size * 256) / 224);
  const [w, h] = img.width <= img.height ? [short, Math.floor((short * img.height) / img.width)] : [Math.floor((short * img.width) / img.height), short];
  const r = pilResize(img, w, h, 'bicubic');
  // torchvision's CenterCrop: int(round((h − size) / 2)), Python's round (half to even).
  const top = roundHalfEven((h - size) / 2);
  const left = roundHalfEven((w - size) / 2);
  return toNormalizedCHW(crop(r, { top, left, width: size, height: size }));
}

async function embedAll(backbone: DenseBackbone, items: Array<() => Promise<RGBImage>>, size: number, batch: number, onProgress?: (done: number, total: number) => void): Promise<{ feats: tf.Tensor2D; ok: boolean[] }> {
  const parts: tf.Tensor2D[] = [];
  const ok: boolean[] = [];
  for (let s = 0; s < items.length; s += batch) {
    const chunk = items.slice(s, s + batch);
    const arrays: Float32Array[] = [];
    for (const load of chunk) {
      try {
        arrays.push(evalTransform(await load(), size));
        ok.push(true);
      } catch {
        ok.push(false);
      }
    }
    if (arrays.length) {
      const per = 3 * size * size;
      const packed = new Float32Array(arrays.length * per);
      arrays.forEach((a, i) => packed.set(a, i * per));
      const x = tf.tensor4d(packed, [arrays.length, 3, size, size]);
      parts.push(backbone.embed(x));
      x.dispose();
    }
    onProgress?.(Math.min(items.length, s + batch), items.length);
  }
  const feats = tf.concat(parts, 0) as tf.Tensor2D;
  tf.dispose(parts);
  return { feats, ok };
}

/** Features of every image of a class-folder tree. */
export async function folderFeatures(backbone: DenseBackbone, root: string, options: { size?: number; batch?: number; limit?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<LabelledFeatures> {
  const folder = imageFolder(root);
  const samples = folder.samples.slice(0, options.limit ?? folder.samples.length);
  const { feats, ok } = await embedAll(backbone, samples.map((s) => () => decodeImage(s.path)), options.size ?? 224, options.batch ?? 16, options.onProgress);
  return {
    feats,
    labels: Int32Array.from(samples.filter((_, i) => ok[i]).map((s) => s.label)),
    classes: folder.classes,
    skipped: samples.filter((_, i) => !ok[i]).map((s) => s.path),
  };
}

/** Features of the first `limit` Fashion-MNIST images of a split. */
export async function fashionMnistFeatures(backbone: DenseBackbone, split: 'train' | 'test', options: { dir?: string; size?: number; batch?: number; limit?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<LabelledFeatures> {
  const ds = fashionMnist(split, options.dir);
  const [count, h, w] = ds.images.shape as [number, number, number];
  const n = Math.min(count, options.limit ?? count);
  const load = (i: number) => async () => {
    const img = createImage(w, h);
    for (let p = 0; p < h * w; p++) {
      const v = ds.images.data[i * h * w + p] as number;
      img.data[3 * p] = v;
      img.data[3 * p + 1] = v;
      img.data[3 * p + 2] = v;
    }
    return img;
  };
  const { feats } = await embedAll(backbone, Array.from({ length: n }, (_, i) => load(i)), options.size ?? 224, options.batch ?? 32, options.onProgress);
  return { feats, labels: Int32Array.from(ds.labels.subarray(0, n)), classes: ds.classes, skipped: [] };
}
