/**
 * PNG outputs of the visualisations: per-head attention heat maps and a patch-feature PCA image,
 * each upsampled to the model input with nearest neighbours and also blended over the image.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { decodeImage, pilResize, toNormalizedCHW } from '@selfpatch/data';
import { attentionMaps, pcaRgb } from '../visualize.js';
import type { DenseBackbone } from '../backbone.js';

/** A perceptually ordered colour ramp (dark blue → yellow) for [0, 1] values. */
function ramp(t: number): [number, number, number] {
  const stops: Array<[number, number, number]> = [
    [13, 8, 135],
    [126, 3, 168],
    [204, 71, 120],
    [248, 149, 64],
    [240, 249, 33],
  ];
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = stops[i] as [number, number, number];
  const b = stops[i + 1] as [number, number, number];
  return [0, 1, 2].map((c) => Math.round((a[c] as number) + f * ((b[c] as number) - (a[c] as number)))) as [number, number, number];
}

async function writeRgb(path: string, rgb: Uint8Array, w: number, h: number, outW: number, outH: number): Promise<void> {
  await sharp(Buffer.from(rgb), { raw: { width: w, height: h, channels: 3 } })
    .resize(outW, outH, { kernel: 'nearest' })
    .png()
    .toFile(path);
}

export interface VisualizeResult {
  files: string[];
  grid: { h: number; w: number };
}

/**
 * Writes `attn-head<i>.png`, `attn-mean.png`, `pca.png` and `pca-overlay.png` for one image
 * resized to `size` (a multiple of the backbone stride).
 *
 * @example
 * ```ts
 * await visualizeImage(loadBackboneFile('teacher_backbone.safetensors'), 'cat.jpg', 'out/', 480);
 * ```
 */
export async function visualizeImage(backbone: DenseBackbone, imagePath: string, outDir: string, size = 480): Promise<VisualizeResult> {
  mkdirSync(outDir, { recursive: true });
  const img = await decodeImage(imagePath);
  const s = Math.max(backbone.stride, Math.round(size / backbone.stride) * backbone.stride);
  const resized = pilResize(img, s, s, 'bicubic');
  const x = tf.tensor4d(toNormalizedCHW(resized), [1, 3, s, s]);
  const files: string[] = [];
  try {
    const { feats, h, w } = backbone.features(x);
    const pca = pcaRgb(feats);
    feats.dispose();
    files.push(join(outDir, 'pca.png'));
    await writeRgb(files[files.length - 1] as string, pca, w, h, s, s);
    const up = await sharp(Buffer.from(pca), { raw: { width: w, height: h, channels: 3 } }).resize(s, s, { kernel: 'nearest' }).raw().toBuffer();
    const blend = Uint8Array.from(resized.data, (v, i) => Math.round(0.5 * v + 0.5 * (up[i] as number)));
    files.push(join(outDir, 'pca-overlay.png'));
    await sharp(Buffer.from(blend), { raw: { width: s, height: s, channels: 3 } }).png().toFile(files[files.length - 1] as string);
    if (backbone.kind === 'vit') {
      const attn = backbone.attention(x);
      const maps = attentionMaps(attn, { h, w }, attn.shape[2] === h * w + 1);
      attn.dispose();
      const paint = (m: Float32Array) => Uint8Array.from({ length: m.length * 3 }, (_, i) => ramp(m[Math.floor(i / 3)] as number)[i % 3] as number);
      for (const [i, m] of maps.heads.entries()) {
        files.push(join(outDir, `attn-head${i}.png`));
        await writeRgb(files[files.length - 1] as string, paint(m), w, h, s, s);
      }
      files.push(join(outDir, 'attn-mean.png'));
      await writeRgb(files[files.length - 1] as string, paint(maps.mean), w, h, s, s);
    }
    return { files, grid: { h, w } };
  } finally {
    x.dispose();
  }
}
