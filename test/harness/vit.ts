/** Builds the ViT a fixture manifest describes (config keys as the generators write them). */
import { VisionTransformer, vitConfig, type VitConfig } from '@selfpatch/vit';

export interface ManifestBackbone {
  embed_dim: number;
  depth: number;
  num_heads: number;
  mlp_ratio?: number;
  qkv_bias?: boolean;
  layernorm_eps?: number;
  patch_size: number;
  img_size: number;
  cls_token?: boolean;
  final_norm?: boolean;
}

export function vitConfigFromManifest(cfg: ManifestBackbone): VitConfig {
  const dino = cfg.cls_token === true;
  if (cfg.final_norm !== undefined && cfg.final_norm !== dino) {
    throw new Error(`manifest combines cls_token=${cfg.cls_token} with final_norm=${cfg.final_norm}: no such official layout`);
  }
  return vitConfig('vit_tiny', {
    layout: dino ? 'dino' : 'selfpatch',
    embedDim: cfg.embed_dim,
    depth: cfg.depth,
    numHeads: cfg.num_heads,
    mlpRatio: cfg.mlp_ratio ?? 4,
    qkvBias: cfg.qkv_bias ?? true,
    layerNormEps: cfg.layernorm_eps ?? 1e-6,
    patchSize: cfg.patch_size,
    imgSize: cfg.img_size,
  });
}

export function vitFromManifest(cfg: ManifestBackbone): VisionTransformer {
  return new VisionTransformer(vitConfigFromManifest(cfg)).eval();
}
