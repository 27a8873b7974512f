/**
 * Golden parity of the ViT backbones: the DINO layout (`vit_dino_cls`), the SelfPatch
 * backbone inside `selfpatch_forward`, and the real vit_tiny of `selfpatch_vit_tiny_forward`.
 * Inputs are every `input.*` image tensor of the fixture; each output present for that input is
 * checked. Nothing about shapes is assumed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { VisionTransformer } from '@selfpatch/vit';
import { loadFixture, expectClose, TEST_BACKENDS, useBackend, vitFromManifest, type Fixture, type ManifestBackbone } from '../harness/index.js';

/** Inputs (4-D images) and the suffix their outputs carry: `input.global_crops` → `global`. */
function imageInputs(fx: Fixture): Array<{ name: string; suffix: string }> {
  return fx
    .names('input.')
    .filter((n) => fx.get(n).shape.length === 4)
    .map((name) => {
      const base = name.slice('input.'.length).replace(/_crops$/, '');
      return { name, suffix: base === 'images' ? '' : `_${base.replace(/^images_/, '')}` };
    });
}

function checkBackbone(fx: Fixture, vit: VisionTransformer, prefix: string): number {
  let checked = 0;
  for (const { name, suffix } of imageInputs(fx)) {
    const x = fx.tensor(name) as tf.Tensor4D;
    const out = (n: string) => `output.${n}${suffix}`;
    tf.tidy(() => {
      const [, , hh, ww] = x.shape;
      if (fx.has(out('pos_embed_interp'))) {
        expectClose(fx, out('pos_embed_interp'), vit.positionEmbedding(vit.gridFor(hh, ww)));
        checked++;
      }
      if (fx.has(out('prepare_tokens'))) {
        expectClose(fx, out('prepare_tokens'), vit.prepareTokens(x).tokens);
        checked++;
      }
      if (fx.has(out(`${prefix}tokens`))) {
        expectClose(fx, out(`${prefix}tokens`), vit.forward(x));
        checked++;
      }
      if (fx.has(out('cls'))) {
        expectClose(fx, out('cls'), vit.forward(x));
        checked++;
      }
      const inter = fx.names(`${out('intermediate')}.`);
      if (inter.length > 0) {
        const layers = vit.getIntermediateLayers(x, inter.length);
        layers.forEach((l, i) => expectClose(fx, `${out('intermediate')}.${i}`, l));
        checked += layers.length;
      }
      if (fx.has(out('attn_last'))) {
        expectClose(fx, out('attn_last'), vit.getLastSelfAttention(x));
        checked++;
      }
    });
    x.dispose();
  }
  return checked;
}

const FIXTURES: Array<{ name: string; backbone: (fx: Fixture) => ManifestBackbone; weightPrefix: string; outPrefix: string }> = [
  { name: 'vit_dino_cls', backbone: (fx) => fx.config as unknown as ManifestBackbone, weightPrefix: '', outPrefix: '' },
  { name: 'selfpatch_forward', backbone: (fx) => fx.config.backbone as ManifestBackbone, weightPrefix: 'backbone.', outPrefix: 'backbone_' },
  { name: 'selfpatch_vit_tiny_forward', backbone: (fx) => fx.config as unknown as ManifestBackbone, weightPrefix: 'backbone.', outPrefix: 'backbone_' },
];

for (const backend of TEST_BACKENDS) {
  for (const f of FIXTURES) {
    test(`[${backend}] ${f.name}: ViT outputs match the official code`, async (t) => {
      const fx = loadFixture(t, f.name);
      if (!fx) return;
      await useBackend(backend);
      const vit = vitFromManifest(f.backbone(fx));
      vit.loadStateDict(fx.weights(f.weightPrefix), { strict: false, context: f.name });
      // Every backbone weight of the fixture must have been used.
      const expected = Object.keys(fx.weights(f.weightPrefix)).filter((k) => !/^(ca_head|c_head|p_head|head)\./.test(k));
      assert.deepEqual(Object.keys(vit.stateDict()).sort(), expected.sort());
      const before = tf.memory().numTensors;
      const checked = checkBackbone(fx, vit, f.outPrefix);
      assert.ok(checked >= 1, 'no output was checked');
      // What is left besides the weights is the eval-mode Wᵀ cache (wasm), owned by the model.
      vit.releaseCaches();
      assert.equal(tf.memory().numTensors, before, 'forward leaked tensors');
      vit.dispose();
    });
  }
}
