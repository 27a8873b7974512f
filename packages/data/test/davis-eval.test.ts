/**
 * The DAVIS evaluation transform against the official `read_frame` (OpenCV bilinear resize to the
 * official size), reference made at test time by scripts/cv_reference.py with Debian's
 * python3-opencv, on real DAVIS frames and on synthetic portrait/odd-sized images.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { cvResizeLinear, davisEvalFrame, davisFrameSize, type RGBImage } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const davis = resolve(process.env.SELFPATCH_DAVIS_DIR ?? join(here, '../../../../shared/data/davis2016-sample/DAVIS'));
const python = process.env.SELFPATCH_PYTHON ?? '/usr/bin/python3';

test('official frame size rule', () => {
  assert.deepEqual(davisFrameSize(854, 480), { width: 832, height: 480 });
  assert.deepEqual(davisFrameSize(480, 854), { width: 480, height: 832 });
  assert.deepEqual(davisFrameSize(640, 480), { width: 640, height: 480 });
  assert.deepEqual(davisFrameSize(1920, 1080), { width: 832, height: 480 });
});

test('cv2.resize INTER_LINEAR parity on real DAVIS frames and synthetic portrait/odd images', async (t) => {
  if (!existsSync(davis)) {
    if (process.env.CI === 'true') throw new Error(`DAVIS sample missing at ${davis}`);
    return t.skip('DAVIS sample not found');
  }
  const tmp = mkdtempSync(join(tmpdir(), 'cv-ref-'));
  const synth = join(tmp, 'portrait.png');
  const raw = Buffer.alloc(517 * 700 * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 31 + (i >> 7)) & 255;
  await sharp(raw, { raw: { width: 517, height: 700, channels: 3 } }).png().toFile(synth);
  const files = [join(davis, 'JPEGImages/480p/blackswan/00000.jpg'), join(davis, 'JPEGImages/480p/car-shadow/00010.jpg'), synth];
  const r = spawnSync(python, [join(here, '../scripts/cv_reference.py'), tmp, ...files], { encoding: 'utf8' });
  if (r.status !== 0) {
    if (process.env.CI !== 'true' && /No module named/.test(r.stderr)) return t.skip('apt-get install python3-opencv');
    assert.fail(r.stderr);
  }
  const index = JSON.parse(readFileSync(join(tmp, 'index.json'), 'utf8')) as Array<{ input: [number, number]; resized: [number, number]; cv2: string }>;
  index.forEach((e, i) => {
    const input: RGBImage = { width: e.input[0], height: e.input[1], data: new Uint8Array(readFileSync(join(tmp, `${i}.input.bin`))) };
    const ours = cvResizeLinear(input, e.resized[0], e.resized[1]);
    const ref = new Uint8Array(readFileSync(join(tmp, `${i}.resized.bin`)));
    let max = 0;
    let diff = 0;
    ref.forEach((v, j) => {
      const d = Math.abs(v - (ours.data[j] as number));
      max = Math.max(max, d);
      if (d) diff++;
    });
    t.diagnostic(`${files[i]} → ${e.resized.join('×')} (OpenCV ${e.cv2}): max ${max}, differing values ${diff}/${ref.length}`);
    assert.equal(max, 0, `${files[i]}: max ${max}, ${diff} differing`);
  });
  const frame = davisEvalFrame({ width: 854, height: 480, data: new Uint8Array(854 * 480 * 3).fill(128) });
  assert.deepEqual([frame.width, frame.height, frame.data.length], [832, 480, 3 * 832 * 480]);
  assert.ok(Math.abs((frame.data[0] as number) - (128 / 255 - 0.485) / 0.228) < 1e-6, 'std 0.228 for R');
});
