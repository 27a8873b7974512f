/**
 * ViT configurations and presets (docs/selfpatch.md §1 table; DINO's `vision_transformer.py`).
 */
import { ConfigError } from '@selfpatch/nn';

/**
 * `selfpatch`: no CLS token, `pos_embed` with N0 entries, no final norm (the SelfPatch backbone).
 * `dino`: CLS token, `pos_embed` N0+1, final LayerNorm `norm` (public DINO checkpoints).
 */
export type VitLayout = 'selfpatch' | 'dino';

export interface VitConfig {
  layout: VitLayout;
  embedDim: number;
  depth: number;
  numHeads: number;
  patchSize: number;
  /** Training resolution; fixes the number of position embeddings `(imgSize/patchSize)²`. */
  imgSize: number;
  mlpRatio: number;
  qkvBias: boolean;
  layerNormEps: number;
  inChans: number;
  /** Stochastic depth: block i gets `rate·i/(depth−1)` (0.1 for the SelfPatch student). */
  dropPathRate: number;
}

export const VIT_ARCHS = {
  vit_tiny: { embedDim: 192, depth: 12, numHeads: 3 },
  vit_small: { embedDim: 384, depth: 12, numHeads: 6 },
  vit_base: { embedDim: 768, depth: 12, numHeads: 12 },
} as const;

export type VitArch = keyof typeof VIT_ARCHS | 'deit_tiny' | 'deit_small';

const ALIASES: Record<string, keyof typeof VIT_ARCHS> = { deit_tiny: 'vit_tiny', deit_small: 'vit_small' };

/** Full config for a named architecture with overrides. */
export function vitConfig(arch: VitArch, overrides: Partial<VitConfig> = {}): VitConfig {
  const key = (ALIASES[arch] ?? arch) as keyof typeof VIT_ARCHS;
  const base = VIT_ARCHS[key];
  if (!base) throw new ConfigError('arch', `unknown architecture '${arch}'; expected one of ${[...Object.keys(VIT_ARCHS), ...Object.keys(ALIASES)].join(', ')}`);
  return validateVitConfig({
    layout: 'selfpatch',
    patchSize: 16,
    imgSize: 224,
    mlpRatio: 4,
    qkvBias: true,
    layerNormEps: 1e-6,
    inChans: 3,
    dropPathRate: 0,
    ...base,
    ...overrides,
  });
}

/** Checks a config and returns it; throws {@link ConfigError} naming the bad option. */
export function validateVitConfig(c: VitConfig): VitConfig {
  const posInt = (name: string, v: number) => {
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(name, `must be a positive integer, got ${v}`);
  };
  posInt('embedDim', c.embedDim);
  posInt('depth', c.depth);
  posInt('numHeads', c.numHeads);
  posInt('patchSize', c.patchSize);
  posInt('imgSize', c.imgSize);
  posInt('inChans', c.inChans);
  if (c.embedDim % c.numHeads !== 0) throw new ConfigError('numHeads', `embedDim ${c.embedDim} is not divisible by numHeads ${c.numHeads}`);
  if (c.imgSize % c.patchSize !== 0) throw new ConfigError('imgSize', `${c.imgSize} is not a multiple of patchSize ${c.patchSize}`);
  if (c.layout !== 'selfpatch' && c.layout !== 'dino') throw new ConfigError('layout', `expected 'selfpatch' or 'dino', got '${String(c.layout)}'`);
  if (!(c.dropPathRate >= 0 && c.dropPathRate < 1)) throw new ConfigError('dropPathRate', `must be in [0, 1), got ${c.dropPathRate}`);
  if (!(c.mlpRatio > 0)) throw new ConfigError('mlpRatio', `must be positive, got ${c.mlpRatio}`);
  if (!(c.layerNormEps > 0)) throw new ConfigError('layerNormEps', `must be positive, got ${c.layerNormEps}`);
  return c;
}
