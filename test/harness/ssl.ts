/** Builds the SelfPatch+DINO network a fixture manifest describes. */
import type { Backbone } from '@selfpatch/nn';
import { MoBY, SelfPatchDINO } from '@selfpatch/ssl';
import type { Fixture } from './golden.js';
import { vitConfigFromManifest, type ManifestBackbone } from './vit.js';

export interface ManifestHead {
  out_dim: number;
  hidden_dim: number;
  bottleneck_dim: number;
  nlayers: number;
  use_bn: boolean;
  norm_last_layer: boolean;
}

export interface ManifestSelfPatch {
  backbone: ManifestBackbone;
  selfpatch_head: { num_heads: number; k_num: number; k_size?: number; num_class_attention_blocks?: number };
  c_head: ManifestHead;
  p_head: ManifestHead;
}

export function selfPatchDinoFromManifest(cfg: ManifestSelfPatch, normLastLayer?: boolean): SelfPatchDINO {
  if (cfg.c_head.hidden_dim !== cfg.p_head.hidden_dim || cfg.c_head.bottleneck_dim !== cfg.p_head.bottleneck_dim) {
    throw new Error('c_head and p_head with different hidden/bottleneck dims are not supported by this harness');
  }
  return new SelfPatchDINO({
    backbone: vitConfigFromManifest(cfg.backbone),
    outDim: cfg.c_head.out_dim,
    patchOutDim: cfg.p_head.out_dim,
    hiddenDim: cfg.c_head.hidden_dim,
    bottleneckDim: cfg.c_head.bottleneck_dim,
    nlayers: cfg.c_head.nlayers,
    useBnInHead: cfg.c_head.use_bn,
    normLastLayer: normLastLayer ?? cfg.c_head.norm_last_layer,
    caDepth: cfg.selfpatch_head.num_class_attention_blocks ?? 2,
    matching: { k: cfg.selfpatch_head.k_num, kernel: (cfg.selfpatch_head.k_size ?? 3) as 3 },
  });
}

export interface ManifestMoby {
  contrast_momentum: number;
  contrast_temperature: number;
  contrast_num_negative: number;
  proj_num_layers: number;
  pred_num_layers: number;
  queue_dim: number;
  K_total_steps: number;
  k_before: number;
  momentum_used: number;
}

/** The MoBY model a `moby_step_*` fixture describes, with its weights loaded. */
export function mobyFromManifest(fx: Fixture, makeEncoder: () => Backbone, numFeatures: number): { moby: MoBY; config: ManifestMoby } {
  const mc = fx.manifest.moby_config as ManifestMoby;
  const moby = new MoBY(makeEncoder(), makeEncoder(), {
    numFeatures,
    innerDim: fx.get('projector.linear_hidden.1.weight').shape[0] as number,
    outDim: mc.queue_dim,
    projLayers: mc.proj_num_layers,
    predLayers: mc.pred_num_layers,
    numNegative: mc.contrast_num_negative,
    temperature: mc.contrast_temperature,
    momentum: mc.contrast_momentum,
  });
  moby.loadStateDict(fx.weights(), { context: fx.name });
  return { moby, config: mc };
}
