/** Builds the SelfPatch+DINO network a fixture manifest describes. */
import { SelfPatchDINO } from '@selfpatch/ssl';
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
