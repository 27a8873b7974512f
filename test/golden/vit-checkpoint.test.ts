/**
 * Official checkpoint nesting: a script kept in the repo (packages/vit/scripts,
 * Debian python3-torch) writes a training checkpoint `{student: module.backbone.*, teacher:
 * backbone.*, optimizer, args: Namespace, ...}` from a fixture's weights; we load the teacher and
 * the student from it and reproduce the fixture outputs. Our export goes back the other way and is
 * loaded by torch the way the official evaluation scripts do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { serializePth, serializeSafetensors } from '@selfpatch/checkpoint';
import { vitFromCheckpoint, exportVitStateDict } from '@selfpatch/vit';
import { goldenDir, loadFixture, expectClose, useBackend, requirePythonTorch } from '../harness/index.js';

const script = resolve(dirname(fileURLToPath(import.meta.url)), '../../packages/vit/scripts/official_checkpoint.py');
const tmp = mkdtempSync(join(tmpdir(), 'selfpatch-vit-ckpt-'));

for (const fixture of ['selfpatch_forward', 'vit_dino_cls']) {
  test(`${fixture}: official-nesting .pth loads (teacher and student) and reproduces the outputs; our export loads in torch`, async (t) => {
    const fx = loadFixture(t, fixture);
    if (!fx) return;
    const py = requirePythonTorch();
    if (!py) return t.skip('python3 with torch not installed');
    await useBackend('wasm');
    const ckpt = join(tmp, `${fixture}.pth`);
    const made = spawnSync(py.python, [script, 'make', join(goldenDir(), `${fixture}.safetensors`), ckpt], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const bytes = readFileSync(ckpt);
    const input = fx.names('input.').find((n) => fx.get(n).shape.length === 4) as string;
    const suffix = input.slice('input.'.length).replace(/_crops$/, '').replace(/^images_?/, '');
    const outName = fx.has(`output.backbone_tokens_${suffix}`) ? `output.backbone_tokens_${suffix}` : `output.cls_${suffix}`;
    for (const which of ['teacher', 'student']) {
      const vit = vitFromCheckpoint(bytes, { which, source: ckpt, config: { numHeads: (fx.config.backbone as { num_heads: number } | undefined)?.num_heads ?? (fx.config.num_heads as number) } }).eval();
      tf.tidy(() => {
        expectClose(fx, outName, vit.forward(fx.tensor(input) as tf.Tensor4D), ` (${which} from .pth)`);
      });
      // Export both ways: .pth nested like a training checkpoint, and bare safetensors.
      const exported = join(tmp, `${fixture}-${which}-export.pth`);
      writeFileSync(exported, serializePth({ teacher: exportVitStateDict(vit, 'backbone.'), epoch: 1 }));
      const checked: ReturnType<typeof spawnSync> = spawnSync(py.python, [script, 'check-export', exported, join(goldenDir(), `${fixture}.safetensors`), 'teacher'], { encoding: 'utf8' });
      assert.equal(checked.status, 0, `${checked.stdout}${checked.stderr}`);
      const st = vitFromCheckpoint(serializeSafetensors(exportVitStateDict(vit)), { source: 'export.safetensors', config: { numHeads: vit.config.numHeads } }).eval();
      tf.tidy(() => {
        expectClose(fx, outName, st.forward(fx.tensor(input) as tf.Tensor4D), ' (re-loaded safetensors export)');
      });
      vit.dispose();
      st.dispose();
    }
  });
}
