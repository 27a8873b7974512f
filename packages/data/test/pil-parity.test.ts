/**
 * Parity with PIL/torchvision on real photos (DAVIS frames from ../shared/data, or
 * SELFPATCH_DAVIS_DIR): reference arrays come from scripts/pil_reference.py (Debian python3-pil and
 * python3-torchvision) run at test time. Ops are compared on PIL's own decoded bytes; the decoder
 * (sharp vs PIL) is measured separately. Measured: every op is bit-exact on the DAVIS frames
 * (max error 0), and sharp decodes these JPEGs to PIL's bytes exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  crop,
  DAVIS_MEAN,
  DAVIS_STD,
  decodeImage,
  gaussianBlur,
  grayscale,
  hflip,
  pilResize,
  resizedCrop,
  solarize,
  toNormalizedCHW,
  type RGBImage,
} from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const davis = resolve(process.env.SELFPATCH_DAVIS_DIR ?? join(here, '../../../../shared/data/davis2016-sample/DAVIS'));
const python = process.env.SELFPATCH_PYTHON ?? '/usr/bin/python3';

const OPS: Record<string, (im: RGBImage) => RGBImage> = {
  resize_224_bicubic: (im) => pilResize(im, 224, 224, 'bicubic'),
  resize_96_bicubic: (im) => pilResize(im, 96, 96, 'bicubic'),
  resize_up_bicubic: (im) => pilResize(crop(im, { left: 100, top: 50, width: 40, height: 30 }), 96, 96, 'bicubic'),
  resize_224_bilinear: (im) => pilResize(im, 224, 224, 'bilinear'),
  resize_width_only: (im) => pilResize(im, 301, im.height, 'bicubic'),
  resize_height_only: (im) => pilResize(im, im.width, 157, 'bicubic'),
  resize_tiny: (im) => pilResize(crop(im, { left: 10, top: 20, width: 3, height: 2 }), 7, 5, 'bicubic'),
  resize_box: (im) => pilResize(im, 96, 80, 'bicubic', [12.25, 7.5, 400.75, 333.125]),
  'blur_tiny_1.5': (im) => gaussianBlur(crop(im, { left: 10, top: 20, width: 3, height: 2 }), 1.5),
  resized_crop: (im) => resizedCrop(im, { top: 37, left: 101, height: 301, width: 377 }, 224, 224),
  'brightness_0.6': (im) => adjustBrightness(im, 0.6),
  'brightness_1.4': (im) => adjustBrightness(im, 1.4),
  'contrast_0.6': (im) => adjustContrast(im, 0.6),
  'contrast_1.4': (im) => adjustContrast(im, 1.4),
  'saturation_0.8': (im) => adjustSaturation(im, 0.8),
  'saturation_1.2': (im) => adjustSaturation(im, 1.2),
  'hue_0.1': (im) => adjustHue(im, 0.1),
  'hue_-0.1': (im) => adjustHue(im, -0.1),
  'hue_0.037': (im) => adjustHue(im, 0.037),
  grayscale: (im) => grayscale(im),
  solarize: (im) => solarize(im),
  hflip: (im) => hflip(im),
  'blur_0.1': (im) => gaussianBlur(im, 0.1),
  'blur_0.73': (im) => gaussianBlur(im, 0.73),
  'blur_1.37': (im) => gaussianBlur(im, 1.37),
  'blur_2.0': (im) => gaussianBlur(im, 2.0),
};

function frames(): string[] {
  const dir = join(davis, 'JPEGImages', '480p');
  return readdirSync(dir).flatMap((seq) => readdirSync(join(dir, seq)).filter((f) => f.endsWith('.jpg')).sort().slice(0, 2).map((f) => join(dir, seq, f)));
}

function errors(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  assert.equal(a.length, b.length);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    if (d > max) max = d;
    sum += d;
  }
  return { max, mean: sum / a.length };
}

test('PIL/torchvision parity of every op on real frames: bit-exact (max error 0)', (t) => {
  if (!existsSync(davis)) {
    if (process.env.CI === 'true') throw new Error(`DAVIS sample missing at ${davis}`);
    return t.skip(`DAVIS sample not found at ${davis}`);
  }
  const out = mkdtempSync(join(tmpdir(), 'pil-ref-'));
  const files = frames();
  const r = spawnSync(python, [join(here, '../scripts/pil_reference.py'), out, ...files], { encoding: 'utf8' });
  if (r.status !== 0) {
    if (process.env.CI !== 'true' && /No module named/.test(r.stderr)) return t.skip('python3-pil/python3-torchvision not installed');
    assert.fail(r.stderr);
  }
  const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as Array<{ outputs: Record<string, [number, number]> }>;
  const report: string[] = [];
  index.forEach((entry, i) => {
    const [w, h] = entry.outputs.input as [number, number];
    const input: RGBImage = { width: w, height: h, data: new Uint8Array(readFileSync(join(out, `${i}.input.bin`))) };
    for (const [name, fn] of Object.entries(OPS)) {
      const [ew, eh] = entry.outputs[name] as [number, number];
      const got = fn(input);
      assert.deepEqual([got.width, got.height], [ew, eh], name);
      const e = errors(got.data, new Uint8Array(readFileSync(join(out, `${i}.${name}.bin`))));
      report.push(`${name}: max ${e.max}, mean ${e.mean.toFixed(4)}`);
      assert.equal(e.max, 0, `${name} on frame ${i}: max ${e.max}, mean ${e.mean}`);
    }
  });
  t.diagnostic(report.join('; '));
});

test('decoder: sharp (libvips) against PIL on the same JPEGs, and typed errors for bad files', async (t) => {
  if (!existsSync(davis)) {
    if (process.env.CI === 'true') throw new Error(`DAVIS sample missing at ${davis}`);
    return t.skip(`DAVIS sample not found at ${davis}`);
  }
  const out = mkdtempSync(join(tmpdir(), 'pil-dec-'));
  const files = frames().slice(0, 2);
  const r = spawnSync(python, [join(here, '../scripts/pil_reference.py'), out, ...files], { encoding: 'utf8' });
  if (r.status !== 0) {
    if (process.env.CI !== 'true') return t.skip('python3-pil/python3-torchvision not installed');
    assert.fail(r.stderr);
  }
  for (const [i, f] of files.entries()) {
    const ours = await decodeImage(f);
    const pil = new Uint8Array(readFileSync(join(out, `${i}.input.bin`)));
    const e = errors(ours.data, pil);
    t.diagnostic(`${f}: sharp vs PIL decode max ${e.max}, mean ${e.mean.toFixed(4)}`);
    // Both use libjpeg(-turbo) but may pick different IDCT/upsampling: bounded, small.
    assert.ok(e.max <= 8 && e.mean < 1, `decode differs: max ${e.max}, mean ${e.mean}`);
  }
  await assert.rejects(decodeImage(new Uint8Array(0), { source: 'empty.jpg' }), { name: 'ImageDecodeError', message: /empty\.jpg: .*empty file/ });
  await assert.rejects(decodeImage(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]), { source: 'truncated.jpg' }), { name: 'ImageDecodeError', message: /truncated\.jpg/ });
  await assert.rejects(decodeImage(new TextEncoder().encode('not an image at all'), { source: 'notes.txt' }), { name: 'ImageDecodeError' });
  await assert.rejects(decodeImage(files[0] as string, { maxPixels: 1000 }), { name: 'ImageDecodeError', message: /more than 1000 pixels/ });
});

// torchvision's ToTensor + Normalize, and the official DAVIS reader's steps (numpy float32 / 255,
// then torch sub_/div_ by Python floats per channel), on an image holding every byte value in
// every channel at a size that takes torch's vectorised loops.
const NORMALIZE_PY = `
import sys, numpy as np, torch
from PIL import Image
from torchvision import transforms
torch.set_num_threads(1)
w, h = int(sys.argv[2]), int(sys.argv[3])
a = np.fromfile(sys.argv[1], dtype=np.uint8).reshape(h, w, 3)
tv = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])(Image.fromarray(a))
x = torch.from_numpy(np.transpose((a.astype(np.float32) / 255.0).copy(), (2, 0, 1)).copy()).float()
for t, m, s in zip(x, [0.485, 0.456, 0.406], [0.228, 0.224, 0.225]):
    t.sub_(m)
    t.div_(s)
sys.stdout.buffer.write(tv.numpy().astype(np.float32).tobytes() + x.numpy().astype(np.float32).tobytes())
`;

test('ToTensor + Normalize: bit-exact with torchvision and with the official DAVIS reader', (t) => {
  const w = 64;
  const h = 48;
  const img: RGBImage = { width: w, height: h, data: new Uint8Array(w * h * 3) };
  // Every value in every channel, then a scramble, so no layout bug hides behind a ramp.
  for (let i = 0; i < img.data.length; i++) img.data[i] = i < 768 ? i % 256 : (i * 2654435761) >>> 24;
  const dir = mkdtempSync(join(tmpdir(), 'normalize-'));
  const file = join(dir, 'img.bin');
  writeFileSync(file, img.data);
  const r = spawnSync(python, ['-c', NORMALIZE_PY, file, String(w), String(h)], { maxBuffer: 1 << 26 });
  if (r.status !== 0) {
    if (process.env.CI !== 'true' && /No module named/.test(String(r.stderr))) return t.skip('python3-torch/python3-torchvision not installed');
    assert.fail(String(r.stderr));
  }
  const out = new Float32Array(new Uint8Array(r.stdout).buffer);
  const n = 3 * w * h;
  assert.equal(out.length, 2 * n);
  assert.deepEqual(toNormalizedCHW(img), out.subarray(0, n), 'torchvision ToTensor + Normalize');
  assert.deepEqual(toNormalizedCHW(img, DAVIS_MEAN, DAVIS_STD), out.subarray(n), 'official DAVIS read_frame normalisation');
});
