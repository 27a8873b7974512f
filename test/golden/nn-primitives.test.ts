/**
 * Golden parity of the nn primitives alone: the transformer blocks of the
 * official backbones rebuilt from LayerNorm/Attention/Mlp and the stored weights reproduce the
 * reference tokens and last-block attention. Dims, depth and eps come from each manifest.
 */
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { Attention, LayerNorm, Mlp, Module } from '@selfpatch/nn';
import { loadFixture, expectClose, TEST_BACKENDS, useBackend, type Fixture } from '../harness/index.js';

class PlainBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: Attention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  constructor(dim: number, heads: number, mlpRatio: number, eps: number, qkvBias: boolean) {
    super();
    this.norm1 = this.addModule('norm1', new LayerNorm(dim, eps));
    this.attn = this.addModule('attn', new Attention(dim, heads, { qkvBias }));
    this.norm2 = this.addModule('norm2', new LayerNorm(dim, eps));
    this.mlp = this.addModule('mlp', new Mlp(dim, { hiddenFeatures: Math.round(dim * mlpRatio) }));
  }
  forward(x: tf.Tensor3D, withAttn = false): { x: tf.Tensor3D; attn?: tf.Tensor4D } {
    const a = this.attn.forward(this.norm1.forward(x) as tf.Tensor3D, withAttn);
    const y = tf.add(x, a.out) as tf.Tensor3D;
    return { x: tf.add(y, this.mlp.forward(this.norm2.forward(y))) as tf.Tensor3D, attn: a.attn };
  }
}

interface BackboneCfg {
  embed_dim: number;
  depth: number;
  num_heads: number;
  mlp_ratio: number;
  qkv_bias: boolean;
  layernorm_eps: number;
}

function buildBlocks(fx: Fixture, cfg: BackboneCfg, prefix: string): PlainBlock[] {
  return Array.from({ length: cfg.depth }, (_, i) => {
    const b = new PlainBlock(cfg.embed_dim, cfg.num_heads, cfg.mlp_ratio, cfg.layernorm_eps, cfg.qkv_bias);
    b.loadStateDict(fx.weights(`${prefix}blocks.${i}.`), { context: `${fx.name} blocks.${i}` });
    return b;
  });
}

function runBlocks(blocks: PlainBlock[], x: tf.Tensor3D): { x: tf.Tensor3D; attn: tf.Tensor4D } {
  let h = x;
  let attn: tf.Tensor4D | undefined;
  blocks.forEach((b, i) => {
    const r = b.forward(h, i === blocks.length - 1);
    h = r.x;
    attn = r.attn;
  });
  return { x: h, attn: attn as tf.Tensor4D };
}

for (const backend of TEST_BACKENDS) {
  test(`[${backend}] selfpatch_forward: blocks from nn primitives reproduce backbone tokens and last attention`, async (t) => {
    const fx = loadFixture(t, 'selfpatch_forward');
    if (!fx) return;
    await useBackend(backend);
    const cfg = fx.config.backbone as BackboneCfg;
    const blocks = buildBlocks(fx, cfg, 'backbone.');
    tf.tidy(() => {
      const { x, attn } = runBlocks(blocks, fx.tensor('output.prepare_tokens_global') as tf.Tensor3D);
      expectClose(fx, 'output.backbone_tokens_global', x);
      expectClose(fx, 'output.attn_last_global', attn);
    });
    blocks.forEach((b) => b.dispose());
  });

  test(`[${backend}] vit_dino_cls: blocks + final norm from nn primitives reproduce the non-square outputs`, async (t) => {
    const fx = loadFixture(t, 'vit_dino_cls');
    if (!fx) return;
    await useBackend(backend);
    const cfg = fx.config as unknown as BackboneCfg;
    const blocks = buildBlocks(fx, cfg, '');
    const norm = new LayerNorm(cfg.embed_dim, cfg.layernorm_eps);
    norm.loadStateDict(fx.weights('norm.'));
    tf.tidy(() => {
      const { x, attn } = runBlocks(blocks, fx.tensor('output.prepare_tokens_b') as tf.Tensor3D);
      const normed = norm.forward(x);
      expectClose(fx, 'output.intermediate_b.0', normed);
      expectClose(fx, 'output.attn_last_b', attn);
      const [b, , c] = normed.shape as [number, number, number];
      expectClose(fx, 'output.cls_b', tf.reshape(tf.slice(normed, [0, 0, 0], [b, 1, c]), [b, c]));
    });
    [...blocks, norm].forEach((m) => m.dispose());
  });
}
