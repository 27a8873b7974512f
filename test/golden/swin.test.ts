/**
 * Golden parity of the Swin backbone: `swin_forward_tiny` (every block and stage
 * output, final norm, pooled feature), `swin_forward_swin_t` (real Swin-T, weights rebuilt from
 * the manifest's counter hash), and `moby_step_swin` (MoBY with a Swin encoder). Config from the
 * manifests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { imageFeature } from '@selfpatch/nn';
import { SwinTransformer, numFeatures, swinTiny, type SwinConfig } from '@selfpatch/swin';
import { expectClose, hashTensor, hashWeights, loadFixture, mobyFromManifest, TEST_BACKENDS, useBackend, type Fixture, type HashStream } from '../harness/index.js';

interface ManifestSwin {
  img_size: number;
  patch_size: number;
  embed_dim: number;
  depths: number[];
  num_heads: number[];
  window_size: number;
  mlp_ratio: number;
  qkv_bias?: boolean;
  layernorm_eps?: number;
}

function swinConfig(c: ManifestSwin): SwinConfig {
  return swinTiny({
    imgSize: c.img_size,
    patchSize: c.patch_size,
    embedDim: c.embed_dim,
    depths: c.depths,
    numHeads: c.num_heads,
    windowSize: c.window_size,
    mlpRatio: c.mlp_ratio,
    qkvBias: c.qkv_bias ?? true,
    layerNormEps: c.layernorm_eps ?? 1e-5,
  });
}

/** Effective window/shift per block as recorded by the fixture. */
function checkBlocks(fx: Fixture, swin: SwinTransformer): void {
  const blocks = fx.manifest.blocks as Array<{ block: string; window_size: number; shift_size: number }> | undefined;
  for (const b of blocks ?? []) {
    const [, i, , j] = b.block.split('.');
    const blk = swin.layers[Number(i)]?.blocks[Number(j)];
    assert.ok(blk, b.block);
    assert.deepEqual([blk.ws, blk.shift], [b.window_size, b.shift_size], `${b.block} window/shift`);
  }
}

for (const backend of TEST_BACKENDS) {
  test(`[${backend}] swin_forward_tiny: every block/stage output, final norm and pooled feature`, async (t) => {
    const fx = loadFixture(t, 'swin_forward_tiny');
    if (!fx) return;
    await useBackend(backend);
    const swin = new SwinTransformer(swinConfig(fx.config as unknown as ManifestSwin)).eval();
    swin.loadStateDict(fx.weights(), { context: 'swin_forward_tiny' });
    checkBlocks(fx, swin);
    const x = fx.tensor('input.images') as tf.Tensor4D;
    const outs = swin.getIntermediateLayers(x);
    let checked = 0;
    for (const name of fx.names('output.')) {
      const key = name.slice('output.'.length);
      if (key === 'pooled') continue;
      const t2 = outs.get(key);
      assert.ok(t2, `no intermediate '${key}'`);
      expectClose(fx, name, t2);
      checked++;
    }
    const pooled = swin.forward(x);
    expectClose(fx, 'output.pooled', pooled);
    assert.ok(checked > 5);
    tf.dispose([...outs.values(), pooled, x]);
    swin.dispose();
  });

  test(`[${backend}] swin_forward_swin_t: real Swin-T (hash-rebuilt weights) last-stage tokens and pooled feature`, async (t) => {
    const fx = loadFixture(t, 'swin_forward_swin_t');
    if (!fx) return;
    await useBackend(backend);
    const cfg = fx.config as unknown as ManifestSwin & { num_params: number };
    const swin = new SwinTransformer(swinConfig(cfg)).eval();
    const wi = fx.manifest.weight_init as { streams: HashStream[] };
    const res = swin.loadStateDict(hashWeights(wi.streams), { strict: false, context: 'swin_forward_swin_t (hash weights)' });
    // Only the derived buffers are absent from the stream list; every parameter was rebuilt.
    assert.deepEqual(res.unexpected, []);
    assert.ok(res.missing.every((k) => /(relative_position_index|attn_mask)$/.test(k)), `missing parameters: ${res.missing.join(', ')}`);
    assert.equal(swin.numParameters(), cfg.num_params, 'parameter count of Swin-T');
    checkBlocks(fx, swin);
    const inp = fx.manifest.input as { shape: number[]; stream: number; a: number; b: number; first4: number[] };
    const data = hashTensor(inp);
    inp.first4.forEach((v, i) => assert.equal(data[i], Math.fround(v)));
    const x = tf.tensor4d(data, inp.shape as [number, number, number, number]);
    const outs = swin.getIntermediateLayers(x);
    expectClose(fx, 'output.layers.3', outs.get(`layers.${cfg.depths.length - 1}`) as tf.Tensor);
    expectClose(fx, 'output.norm', outs.get('norm') as tf.Tensor);
    const pooled = swin.forward(x);
    expectClose(fx, 'output.pooled', pooled);
    tf.dispose([...outs.values(), pooled, x]);
    swin.dispose();
  });

  test(`[${backend}] moby_step_swin: MoBY with a Swin encoder — losses, gradients, post-step state`, async (t) => {
    const fx = loadFixture(t, 'moby_step_swin');
    if (!fx) return;
    await useBackend(backend);
    const ec = fx.manifest.encoder_config as ManifestSwin;
    const enc = () => new SwinTransformer(swinConfig(ec));
    const { moby, config: mc } = mobyFromManifest(fx, enc, numFeatures(swinConfig(ec)));
    const v1 = fx.tensor('input.view1') as tf.Tensor4D;
    const v2 = fx.tensor('input.view2') as tf.Tensor4D;
    tf.tidy(() => {
      moby.encoder.eval();
      expectClose(fx, 'output.feat_1', imageFeature(moby.encoder.forwardFeatures(v1)));
      expectClose(fx, 'output.feat_2', imageFeature(moby.encoder.forwardFeatures(v2)));
    });
    const res = moby.step(v1, v2, mc.k_before, mc.K_total_steps);
    expectClose(fx, 'output.loss_12', [res.loss12]);
    expectClose(fx, 'output.loss_21', [res.loss21]);
    expectClose(fx, 'output.loss', [res.loss]);
    for (const name of fx.names('grad.')) {
      const g = res.grads.get(name.slice('grad.'.length));
      assert.ok(g, `no gradient for ${name}`);
      expectClose(fx, name, g);
    }
    const state = moby.stateDict();
    for (const name of fx.names('after.')) expectClose(fx, name, state[name.slice('after.'.length)] as tf.Tensor);
    tf.dispose([...res.grads.values(), v1, v2]);
    moby.dispose();
  });
}
