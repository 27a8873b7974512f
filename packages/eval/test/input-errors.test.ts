/**
 * Inputs users actually have: DAVIS copies without ImageSets/, checkpoints of diverged runs
 * (non-finite weights), widths that match no preset. Each must either work or fail with a message
 * naming what to change. Hostile files are made by the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckpointFormatError, ConfigError, Rng } from '@selfpatch/nn';
import { serializeSafetensors } from '@selfpatch/checkpoint';
import { use } from '@selfpatch/backend/testing';
import { exportVitStateDict, VisionTransformer, vitConfig } from '@selfpatch/vit';
import { davisSequences, loadBackboneFile, openCheckpoint } from '../src/node/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const davis = resolve(process.env.SELFPATCH_DAVIS_DIR ?? join(here, '../../../../shared/data/davis2016-sample/DAVIS'));
const tmp = () => mkdtempSync(join(tmpdir(), 'selfpatch-eval-input-'));

function vitFile(dir: string, name: string, over: Parameters<typeof vitConfig>[1], poison = false): string {
  const vit = new VisionTransformer(vitConfig('vit_tiny', over), { rng: new Rng(5) });
  const sd = exportVitStateDict(vit);
  if (poison) (sd['blocks.1.attn.proj.weight']?.data as Float32Array)[7] = Number.NaN;
  const path = join(dir, name);
  writeFileSync(path, serializeSafetensors(sd));
  vit.dispose();
  return path;
}

test('a DAVIS root with only JPEGImages/ and Annotations/ works, with or without --sequences', (t) => {
  if (!existsSync(davis)) {
    if (process.env.CI === 'true') throw new Error(`DAVIS sample missing at ${davis} (set SELFPATCH_DAVIS_DIR)`);
    t.skip('DAVIS sample not found');
    return;
  }
  const root = tmp();
  for (const d of ['JPEGImages', 'Annotations']) symlinkSync(join(davis, d), join(root, d));
  const full = davisSequences(davis, { year: '2016' });
  const bare = davisSequences(root, { year: '2016' });
  assert.deepEqual(bare.map((s) => s.name), full.map((s) => s.name), 'every folder of JPEGImages/480p');
  assert.deepEqual(bare.map((s) => s.frames.length), full.map((s) => s.frames.length));
  const one = full[0]?.name as string;
  const named = davisSequences(root, { year: '2016', sequences: [one] });
  assert.deepEqual(named.map((s) => s.name), [one]);
  assert.ok((named[0]?.masks.length ?? 0) > 0);
  assert.throws(() => davisSequences(root, { sequences: ['no-such-sequence'] }), /no-such-sequence.*has no frame folder/);
  assert.throws(() => davisSequences(tmp()), /not a DAVIS root: neither ImageSets.* nor JPEGImages/);
});

test('weights with NaN are refused by name; width 100 asks for --num-heads on the CLI', async () => {
  await use('cpu');
  const dir = tmp();
  const nan = vitFile(dir, 'diverged.safetensors', { depth: 2 }, true);
  assert.throws(() => loadBackboneFile(nan), (e: unknown) => e instanceof CheckpointFormatError && /'blocks\.1\.attn\.proj\.weight' holds 1 non-finite value/.test(e.message));
  loadBackboneFile(nan, { allowNonFinite: true }).dispose();
  const odd = vitFile(dir, 'width100.safetensors', { depth: 1, embedDim: 100, numHeads: 4 });
  await assert.rejects(openCheckpoint({ checkpoint: odd, backend: 'cpu' }), (e: unknown) => e instanceof ConfigError && e.option === '--num-heads' && /width 100 matches no preset/.test(e.message));
  const net = await openCheckpoint({ checkpoint: odd, backend: 'cpu', numHeads: 4 });
  assert.match(net.description, /width 100, depth 1, 4 heads/);
  net.dispose();
});

test('an unknown --simd build is refused by flag name before the checkpoint is read', async () => {
  // The value is checked before the file: a missing checkpoint must not be what the user hears about.
  await assert.rejects(openCheckpoint({ checkpoint: join(tmp(), 'absent.pth'), backend: 'cpu', simd: 'avx' }), (e: unknown) => e instanceof ConfigError && e.option === '--simd' && /auto, simd, relaxed-simd.*"avx"/.test(e.message));
});
