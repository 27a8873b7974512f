import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '@selfpatch/nn';
import { randomResizedCropParams, roundHalfEven, crop, hflip, toNormalizedCHW, createImage } from '../src/index.js';

test('roundHalfEven is Python 3 round()', () => {
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, -0, -2, 2, 3]);
});

test('RandomResizedCrop params: inside the image, area/ratio within bounds, deterministic per seed', () => {
  const rng = new Rng(1);
  for (let i = 0; i < 2000; i++) {
    const b = randomResizedCropParams(854, 480, [0.05, 0.25], [3 / 4, 4 / 3], rng);
    assert.ok(b.top >= 0 && b.left >= 0 && b.top + b.height <= 480 && b.left + b.width <= 854);
    const area = (b.width * b.height) / (854 * 480);
    assert.ok(area > 0.04 && area < 0.26, `area ${area}`);
    assert.ok(b.width / b.height > 0.74 && b.width / b.height < 1.35);
  }
  const a = randomResizedCropParams(640, 480, [0.25, 1], [3 / 4, 4 / 3], new Rng(5));
  assert.deepEqual(randomResizedCropParams(640, 480, [0.25, 1], [3 / 4, 4 / 3], new Rng(5)), a);
});

test('RandomResizedCrop fallback: a centre crop clamped to the ratio range when no try fits', () => {
  // A 1000×10 strip cannot hold any crop of ratio ≤ 4/3 with area ≥ 90%: falls back to the centre.
  const b = randomResizedCropParams(1000, 10, [0.9, 1], [3 / 4, 4 / 3], new Rng(2));
  assert.deepEqual(b, { top: 0, left: Math.floor((1000 - 13) / 2), height: 10, width: 13 });
});

test('crop, hflip and normalisation', () => {
  const img = createImage(3, 2);
  img.data.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]);
  assert.deepEqual(Array.from(crop(img, { top: 1, left: 1, height: 1, width: 2 }).data), [13, 14, 15, 16, 17, 18]);
  assert.deepEqual(Array.from(hflip(img).data.slice(0, 9)), [7, 8, 9, 4, 5, 6, 1, 2, 3]);
  const chw = toNormalizedCHW(img, [0, 0, 0], [1, 1, 1]);
  assert.deepEqual(Array.from(chw.slice(0, 3), (v) => Math.round(v * 255)), [1, 4, 7]);
});
