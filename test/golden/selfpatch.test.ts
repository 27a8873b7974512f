/**
 * Golden parity of the SelfPatch module: neighbour tables, similarities, top-k
 * sets and the aggregation head (`ca_head`, loc=true/false), from the stored backbone tokens (the
 * head alone) and end to end from the images. Head options and grids come from the manifest and
 * the tensors' shapes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { neighbourhood, SelfPatchHead } from '@selfpatch/selfpatch';
import { loadFixture, expectClose, sortRows, TEST_BACKENDS, useBackend, vitFromManifest, type Fixture, type ManifestBackbone } from '../harness/index.js';

interface HeadCfg {
  num_heads: number;
  k_num: number;
  k_size?: number;
  num_class_attention_blocks?: number;
  mlp_ratio?: number;
  layernorm_eps?: number;
}

function headConfig(fx: Fixture): { head: HeadCfg; backbone: ManifestBackbone } {
  const cfg = fx.config as Record<string, unknown>;
  const backbone = (cfg.backbone ?? cfg) as ManifestBackbone;
  const head = (cfg.selfpatch_head ?? { num_heads: backbone.num_heads, k_num: cfg.k_num }) as HeadCfg;
  return { head, backbone };
}

/** Crop sets: `input.global_crops` → suffix `_global`; `input.images` → no suffix. */
function cropSets(fx: Fixture): Array<{ input: string; suffix: string }> {
  return fx
    .names('input.')
    .filter((n) => fx.get(n).shape.length === 4)
    .map((input) => {
      const base = input.slice('input.'.length).replace(/_crops$/, '');
      return { input, suffix: base === 'images' ? '' : `_${base}` };
    });
}

function buildHead(fx: Fixture, head: HeadCfg, dim: number): SelfPatchHead {
  const h = new SelfPatchHead(dim, {
    numHeads: head.num_heads,
    depth: head.num_class_attention_blocks ?? 2,
    mlpRatio: head.mlp_ratio ?? 4,
    eps: head.layernorm_eps ?? 1e-6,
  });
  h.loadStateDict(fx.weights('ca_head.'), { context: `${fx.name} ca_head` });
  return h;
}

function checkHead(fx: Fixture, head: SelfPatchHead, cfg: HeadCfg, tokens: tf.Tensor3D, grid: { h: number; w: number }, suffix: string, label: string): number {
  let checked = 0;
  const kernel = (cfg.k_size ?? 3) as 3 | 5;
  tf.tidy(() => {
    if (fx.has(`output.ca_loc_false${suffix}`)) {
      expectClose(fx, `output.ca_loc_false${suffix}`, head.forward(tokens, { loc: false }).out, label);
      checked++;
    }
    if (!fx.has(`output.ca_loc_true${suffix}`)) return;
    const { out, matches } = head.forward(tokens, { loc: true, grid, matching: { k: cfg.k_num, kernel } });
    expectClose(fx, `output.ca_loc_true${suffix}`, out, label);
    const m = matches!;
    if (fx.has(`output.local_sim${suffix}`)) expectClose(fx, `output.local_sim${suffix}`, m.similarity, label);
    for (const [name, values] of [[`output.topk${suffix}`, m.slots], [`output.topk_abs${suffix}`, m.ids]] as const) {
      if (!fx.has(name)) continue;
      const exp = fx.get(name);
      const k = exp.shape[exp.shape.length - 1] as number;
      assert.deepEqual(Array.from(sortRows(values, k)), Array.from(sortRows(exp.data as Int32Array, k)), `${name}${label}: selected sets differ`);
    }
    checked += 2;
  });
  return checked;
}

for (const backend of TEST_BACKENDS) {
  for (const name of ['selfpatch_forward', 'selfpatch_vit_tiny_forward']) {
    test(`[${backend}] ${name}: neighbour tables, similarities, top-k sets and ca_head outputs match`, async (t) => {
      const fx = loadFixture(t, name);
      if (!fx) return;
      await useBackend(backend);
      const { head: cfg, backbone } = headConfig(fx);
      const head = buildHead(fx, cfg, backbone.embed_dim);
      const vit = vitFromManifest(backbone);
      vit.loadStateDict(fx.weights('backbone.'), { strict: false });
      // Neighbour tables stored by the fixture (index.local_*), compared exactly.
      for (const idx of fx.names('index.')) {
        const exp = fx.get(idx);
        const side = Math.round(Math.sqrt(exp.shape[0] as number));
        assert.deepEqual(Array.from(neighbourhood(side, side, { kernel: (cfg.k_size ?? 3) as 3 }).table), Array.from(exp.data as Int32Array), idx);
      }
      let checked = 0;
      const before = tf.memory().numTensors;
      for (const { input, suffix } of cropSets(fx)) {
        const images = fx.tensor(input) as tf.Tensor4D;
        const grid = vit.gridFor(images.shape[2], images.shape[3]);
        const tokensName = `output.backbone_tokens${suffix}`;
        if (fx.has(tokensName)) {
          const stored = fx.tensor(tokensName) as tf.Tensor3D;
          checked += checkHead(fx, head, cfg, stored, grid, suffix, ' (head on stored tokens)');
          stored.dispose();
        }
        const tokens = vit.forward(images) as tf.Tensor3D;
        checked += checkHead(fx, head, cfg, tokens, grid, suffix, ' (end to end from images)');
        tf.dispose([tokens, images]);
      }
      assert.ok(checked > 0, 'nothing checked');
      // What is left besides the weights is the eval-mode Wᵀ cache (wasm), owned by the modules.
      vit.releaseCaches();
      head.releaseCaches();
      assert.equal(tf.memory().numTensors, before, 'leaked tensors');
      head.dispose();
      vit.dispose();
    });
  }
}
