import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { DataLoader, davisDataset, decodeImage, fashionMnist, imageFolder, readMask, type Batch } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const davis = resolve(process.env.SELFPATCH_DAVIS_DIR ?? join(here, '../../../../shared/data/davis2016-sample/DAVIS'));
const python = process.env.SELFPATCH_PYTHON ?? '/usr/bin/python3';

function gradient(w: number, h: number, ch = 3): Buffer {
  const b = Buffer.alloc(w * h * ch);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < ch; c++) b[(y * w + x) * ch + c] = (x * 7 + y * 3 + c * 50) & 0xff;
  return b;
}

async function makeFolder(): Promise<{ root: string; bad: string[] }> {
  const root = mkdtempSync(join(tmpdir(), 'selfpatch-folder-'));
  for (const d of ['cats/sub', 'dogs']) mkdirSync(join(root, d), { recursive: true });
  const raw = (w: number, h: number, ch: 1 | 3 | 4 = 3) => sharp(gradient(w, h, ch), { raw: { width: w, height: h, channels: ch } });
  await raw(64, 48).jpeg().toFile(join(root, 'cats', 'a.jpg'));
  await raw(50, 40, 4).png().toFile(join(root, 'cats', 'sub', 'rgba.png'));
  await raw(40, 40, 1).png().toFile(join(root, 'cats', 'gray.png'));
  await raw(48, 32).png({ compressionLevel: 1 }).toColourspace('rgb16').toFile(join(root, 'dogs', 'deep16.png'));
  await raw(40, 30).jpeg().toColourspace('cmyk').toFile(join(root, 'dogs', 'cmyk.jpg'));
  await raw(60, 30).jpeg().withMetadata({ orientation: 6 }).toFile(join(root, 'dogs', 'rotated.jpg'));
  await raw(70, 50).webp().toFile(join(root, 'dogs', 'w.webp'));
  await raw(30, 30).jpeg().toFile(join(root, 'ignored-root.jpg'));
  const bad = [join(root, 'dogs', 'empty.jpg'), join(root, 'dogs', 'truncated.jpg'), join(root, 'dogs', 'notes.png'), join(root, 'dogs', 'huge.png')];
  writeFileSync(bad[0] as string, new Uint8Array(0));
  writeFileSync(bad[1] as string, readFileSync(join(root, 'cats', 'a.jpg')).subarray(0, 120));
  writeFileSync(bad[2] as string, 'not an image');
  await raw(2000, 1200).png({ compressionLevel: 1 }).toFile(bad[3] as string);
  return { root, bad };
}

test('decoding: grayscale, RGBA, 16-bit, CMYK, EXIF orientation all come out as 8-bit RGB', async () => {
  const { root } = await makeFolder();
  const gray = await decodeImage(join(root, 'cats', 'gray.png'));
  assert.ok(Array.from({ length: 100 }, (_, i) => gray.data[3 * i] === gray.data[3 * i + 1] && gray.data[3 * i] === gray.data[3 * i + 2]).every(Boolean));
  const rgba = await decodeImage(join(root, 'cats', 'sub', 'rgba.png'));
  assert.equal(rgba.data.length, 50 * 40 * 3);
  const deep = await decodeImage(join(root, 'dogs', 'deep16.png'));
  assert.equal(deep.data.length, 48 * 32 * 3);
  const cmyk = await decodeImage(join(root, 'dogs', 'cmyk.jpg'));
  assert.equal(cmyk.data.length, 40 * 30 * 3);
  const rot = await decodeImage(join(root, 'dogs', 'rotated.jpg'));
  assert.deepEqual([rot.width, rot.height], [30, 60], 'EXIF orientation 6 rotates the 60×30 image');
});

test('image folder: sorted classes, recursive, root files ignored when classes exist', async () => {
  const { root } = await makeFolder();
  const f = imageFolder(root);
  assert.deepEqual(f.classes, ['cats', 'dogs']);
  assert.ok(f.samples.some((s) => s.path.endsWith(join('sub', 'rgba.png')) && s.label === 0));
  assert.deepEqual(f.ignored.map((p) => p.slice(root.length + 1)), ['ignored-root.jpg']);
  const flat = imageFolder(join(root, 'cats'));
  assert.deepEqual(flat.classes, ['sub']);
  assert.throws(() => imageFolder(join(root, 'nope')), { name: 'DatasetError' });
});

async function drain(l: DataLoader, n: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for (let i = 0; i < n; i++) out.push(await l.next());
  return out;
}

test('loader: bad files are skipped and reported; workers and in-process give identical batches; resume is exact', async () => {
  const { root, bad } = await makeFolder();
  const files = imageFolder(root).samples.map((s) => s.path);
  const recipe = { kind: 'multicrop' as const, options: { globalSize: 32, localSize: 16, globalScale: [0.25, 1] as [number, number], localScale: [0.05, 0.25] as [number, number], localCrops: 2 } };
  const mk = (workers: number) => new DataLoader({ files, batchSize: 2, seed: 3, recipe, workers, maxPixels: 1_000_000 });
  const a = mk(2);
  const batchesA = await drain(a, 6); // crosses into epoch 1
  await a.close();
  const b = mk(0);
  const batchesB = await drain(b, 6);
  assert.deepEqual(batchesA.map((x) => x.paths), batchesB.map((x) => x.paths));
  batchesA.forEach((x, i) => x.crops.forEach((c, j) => assert.deepEqual(Array.from(c), Array.from((batchesB[i] as Batch).crops[j] as Float32Array))));
  const first = batchesA[0] as Batch;
  assert.deepEqual(first.sizes, [32, 32, 16, 16]);
  assert.equal((first.crops[0] as Float32Array).length, 2 * 3 * 32 * 32);
  assert.ok(batchesA.some((x) => x.epoch === 1), 'moved to the next epoch');
  const skipped = new Set(b.skipped.filter((s) => s.epoch === 0).map((s) => s.path));
  for (const p of bad) assert.ok(skipped.has(p), `not reported: ${p}`);
  assert.match(b.skipped.find((s) => s.path.endsWith('huge.png'))?.reason ?? '', /pixels/);
  // Resume after the second batch.
  const c = mk(0);
  await drain(c, 2);
  const saved = c.getState();
  const d = mk(0);
  d.setState(saved);
  const rest = await drain(d, 4);
  rest.forEach((x, i) => assert.deepEqual(x.paths, (batchesB[i + 2] as Batch).paths));
  assert.deepEqual(Array.from((rest[0] as Batch).crops[1] as Float32Array), Array.from((batchesB[2] as Batch).crops[1] as Float32Array));
});

test('DAVIS: sequences, frames and binary masks from the 2016 sample; palette masks keep indices', (t) => {
  if (!existsSync(davis)) {
    if (process.env.CI === 'true') throw new Error(`DAVIS sample missing at ${davis}`);
    return t.skip('DAVIS sample not found');
  }
  const seqs = davisDataset(davis, { year: '2016' });
  assert.deepEqual(seqs.map((s) => [s.name, s.frames.length, s.masks.length]), [['blackswan', 50, 50], ['car-shadow', 40, 40]]);
  const m = readMask((seqs[0] as { masks: string[] }).masks[0] as string);
  assert.deepEqual([m.width, m.height], [854, 480]);
  assert.deepEqual([...new Set(m.labels)].sort(), [0, 1]);
  assert.throws(() => davisDataset(davis, { year: '2016', sequences: ['bear'] }), /'bear' is not listed/);
  // An indexed (palette) mask as DAVIS-2017 stores them, written by PIL.
  const pal = join(mkdtempSync(join(tmpdir(), 'pal-')), 'm.png');
  const r = spawnSync(python, ['-c', `from PIL import Image\nim = Image.new('P', (4, 2))\nim.putpalette([0,0,0, 128,0,0, 0,128,0] + [0]*759)\nim.putdata([0,1,2,2,1,0,0,2])\nim.save('${pal}')`], { encoding: 'utf8' });
  if (r.status !== 0) {
    if (process.env.CI === 'true') assert.fail(r.stderr);
    return;
  }
  assert.deepEqual(Array.from(readMask(pal).labels), [0, 1, 2, 2, 1, 0, 0, 2]);
});

test('Fashion-MNIST IDX from the Debian package', (t) => {
  if (!existsSync('/usr/share/datasets/fashion-mnist')) {
    if (process.env.CI === 'true') throw new Error('dataset-fashion-mnist is not installed');
    return t.skip('apt-get install dataset-fashion-mnist');
  }
  const ds = fashionMnist('test');
  assert.deepEqual(ds.images.shape, [10000, 28, 28]);
  assert.equal(ds.labels.length, 10000);
  const counts = new Array(10).fill(0);
  for (const l of ds.labels) counts[l]++;
  assert.deepEqual(counts, new Array(10).fill(1000), 'the test split is balanced');
});

test('the embedded demo images load through the folder dataset and the multi-crop loader', async () => {
  const { demoImagesDir, imageFolder: folder, DataLoader: Loader, SELFPATCH_MULTICROP } = await import('../src/index.js');
  const f = folder(demoImagesDir());
  assert.ok(f.samples.length >= 10, `${f.samples.length} demo images`);
  assert.ok(existsSync(join(demoImagesDir(), '..', 'ATTRIBUTION.md')));
  const { demoVideoDir } = await import('../src/index.js');
  const frames = folder(demoVideoDir()).samples;
  assert.ok(frames.length >= 10, `${frames.length} demo video frames`);
  const loader = new Loader({ files: f.samples.map((s) => s.path), batchSize: 4, seed: 0, recipe: { kind: 'multicrop', options: SELFPATCH_MULTICROP }, workers: 1 });
  const batch = await loader.next();
  await loader.close();
  assert.deepEqual(batch.sizes, [224, 224, 96, 96, 96, 96, 96, 96, 96, 96]);
  assert.equal(loader.skipped.length, 0);
});
