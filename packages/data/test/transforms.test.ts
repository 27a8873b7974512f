import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '@selfpatch/nn';
import { createImage, multiCrop, mobyViews, colorJitter, flipAndColor, adjustBrightness, adjustContrast, adjustSaturation, adjustHue, type RGBImage } from '../src/index.js';

function photo(w: number, h: number, seed: number): RGBImage {
  const img = createImage(w, h);
  const r = new Rng(seed);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const o = (y * w + x) * 3;
    img.data[o] = (x * 255) / w;
    img.data[o + 1] = (y * 255) / h;
    img.data[o + 2] = r.int(256);
  }
  return img;
}

test('multi-crop: 2 global 224 + 8 local 96 views, normalised CHW, reproducible per seed', () => {
  const img = photo(320, 240, 1);
  const a = multiCrop(img, new Rng(7));
  const b = multiCrop(img, new Rng(7));
  assert.deepEqual(a.map((v) => v.size), [224, 224, 96, 96, 96, 96, 96, 96, 96, 96]);
  a.forEach((v, i) => {
    assert.equal(v.data.length, 3 * v.size * v.size);
    assert.deepEqual(Array.from(v.data), Array.from((b[i] as typeof v).data));
    assert.ok(v.data.every((x) => x > -2.2 && x < 2.7), 'normalised range');
  });
  assert.notDeepEqual(Array.from((multiCrop(img, new Rng(8))[0] as { data: Float32Array }).data.slice(0, 50)), Array.from((a[0] as { data: Float32Array }).data.slice(0, 50)));
  const [m1, m2] = mobyViews(img, new Rng(3), 112);
  assert.equal(m1.data.length, 3 * 112 * 112);
  assert.equal(m2.size, 112);
});

test('ColorJitter applies the four ops in the drawn order with the drawn factors', () => {
  const img = photo(40, 30, 2);
  const rng = new Rng(11);
  const state = rng.getState();
  const out = colorJitter(img, rng, { brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 });
  // Replay the draws by hand: permutation first, then b, c, s, h.
  const replay = new Rng(0);
  replay.setState(state);
  const order = replay.shuffle([0, 1, 2, 3]);
  const f = [replay.uniformRange(0.6, 1.4), replay.uniformRange(0.6, 1.4), replay.uniformRange(0.8, 1.2), replay.uniformRange(-0.1, 0.1)];
  const ops = [adjustBrightness, adjustContrast, adjustSaturation, adjustHue];
  let expected = img;
  for (const i of order) expected = (ops[i] as (im: RGBImage, v: number) => RGBImage)(expected, f[i] as number);
  assert.deepEqual(Array.from(out.data), Array.from(expected.data));
});

test('flip-and-colour applies jitter in ~80% and grayscale in ~20% of calls', () => {
  const img = photo(8, 8, 3);
  const rng = new Rng(5);
  let gray = 0;
  let same = 0;
  const n = 2000;
  for (let i = 0; i < n; i++) {
    const v = flipAndColor(img, rng);
    let isGray = true;
    for (let p = 0; p < v.data.length; p += 3) if (v.data[p] !== v.data[p + 1] || v.data[p] !== v.data[p + 2]) isGray = false;
    if (isGray) gray++;
    if (Buffer.compare(Buffer.from(v.data), Buffer.from(img.data)) === 0) same++;
  }
  assert.ok(Math.abs(gray / n - 0.2) < 0.03, `grayscale rate ${gray / n}`);
  // Unchanged only when not flipped, not jittered and not gray: 0.5 · 0.2 · 0.8 = 8%.
  assert.ok(Math.abs(same / n - 0.08) < 0.02, `identity rate ${same / n}`);
});
