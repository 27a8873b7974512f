/**
 * Golden parity of a MoBY step: `moby_step_vit` — online and target
 * outputs, both loss terms, online gradients, and the state after the step (momentum-updated
 * target, BN statistics, queues, pointer). The encoder is DINO's ViT (CLS after the final norm);
 * the Swin variant lives with the Swin backbone. Config comes from the manifest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { imageFeature } from '@selfpatch/nn';
import { VisionTransformer, vitConfig } from '@selfpatch/vit';
import { expectClose, loadFixture, mobyFromManifest, TEST_BACKENDS, useBackend } from '../harness/index.js';

interface MobyManifest {
  encoder_config: { img_size: number; patch_size: number; embed_dim: number; depth: number; num_heads: number; mlp_ratio: number };
}

for (const backend of TEST_BACKENDS) {
  test(`[${backend}] moby_step_vit: outputs, losses, gradients and the post-step state match`, async (t) => {
    const fx = loadFixture(t, 'moby_step_vit');
    if (!fx) return;
    await useBackend(backend);
    const m = fx.manifest as unknown as MobyManifest;
    const e = m.encoder_config;
    const enc = () => new VisionTransformer(vitConfig('vit_tiny', { layout: 'dino', embedDim: e.embed_dim, depth: e.depth, numHeads: e.num_heads, mlpRatio: e.mlp_ratio, patchSize: e.patch_size, imgSize: e.img_size }));
    const { moby, config: mc } = mobyFromManifest(fx, enc, e.embed_dim);
    const v1 = fx.tensor('input.view1') as tf.Tensor4D;
    const v2 = fx.tensor('input.view2') as tf.Tensor4D;
    // Intermediate outputs, computed separately with the same weights before the step.
    tf.tidy(() => {
      moby.encoder.eval();
      for (const [i, v] of [[1, v1], [2, v2]] as const) {
        expectClose(fx, `output.feat_${i}`, imageFeature(moby.encoder.forwardFeatures(v)));
      }
    });
    const res = moby.step(v1, v2, mc.k_before, mc.K_total_steps);
    assert.ok(Math.abs(res.momentum - mc.momentum_used) < 1e-12);
    expectClose(fx, 'output.loss_12', [res.loss12]);
    expectClose(fx, 'output.loss_21', [res.loss21]);
    expectClose(fx, 'output.loss', [res.loss]);
    let grads = 0;
    for (const name of fx.names('grad.')) {
      const key = name.slice('grad.'.length);
      const g = res.grads.get(key);
      assert.ok(g, `no gradient for ${key}`);
      expectClose(fx, name, g);
      grads++;
    }
    assert.equal(grads, res.grads.size, 'every online parameter has a stored gradient');
    const state = moby.stateDict();
    for (const name of fx.names('after.')) {
      const key = name.slice('after.'.length);
      assert.ok(state[key], `no state '${key}'`);
      expectClose(fx, name, state[key] as tf.Tensor);
    }
    tf.dispose([...res.grads.values(), v1, v2]);
    moby.dispose();
  });
}
