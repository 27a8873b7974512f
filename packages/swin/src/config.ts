/** Swin configurations (docs/swin-moby.md §1). */
import { ConfigError } from '@selfpatch/nn';

export interface SwinConfig {
  /** Training resolution (fixes the registered `attn_mask` buffers); other sizes are padded. */
  imgSize: number;
  patchSize: number;
  inChans: number;
  embedDim: number;
  depths: number[];
  numHeads: number[];
  windowSize: number;
  mlpRatio: number;
  qkvBias: boolean;
  qkScale?: number;
  /** LayerNorm eps (PyTorch default 1e-5 everywhere in Swin). */
  layerNormEps: number;
  /** Stochastic depth, linspace(0, rate, Σdepths) over all blocks (0.2 for the MoBY online encoder). */
  dropPathRate: number;
}

/** Swin-T: 96, [2, 2, 6, 2], [3, 6, 12, 24], window 7, patch 4 at 224. */
export function swinTiny(overrides: Partial<SwinConfig> = {}): SwinConfig {
  return validateSwinConfig({
    imgSize: 224,
    patchSize: 4,
    inChans: 3,
    embedDim: 96,
    depths: [2, 2, 6, 2],
    numHeads: [3, 6, 12, 24],
    windowSize: 7,
    mlpRatio: 4,
    qkvBias: true,
    layerNormEps: 1e-5,
    dropPathRate: 0,
    ...overrides,
  });
}

export function validateSwinConfig(c: SwinConfig): SwinConfig {
  const posInt = (name: string, v: number) => {
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(name, `must be a positive integer, got ${v}`);
  };
  ['imgSize', 'patchSize', 'inChans', 'embedDim', 'windowSize'].forEach((k) => posInt(k, c[k as keyof SwinConfig] as number));
  if (c.depths.length === 0 || c.depths.length !== c.numHeads.length) {
    throw new ConfigError('depths', `depths (${c.depths.length} stages) and numHeads (${c.numHeads.length}) must have the same non-zero length`);
  }
  c.depths.forEach((d, i) => posInt(`depths[${i}]`, d));
  c.numHeads.forEach((h, i) => {
    posInt(`numHeads[${i}]`, h);
    const dim = c.embedDim * 2 ** i;
    if (dim % h !== 0) throw new ConfigError(`numHeads[${i}]`, `stage dim ${dim} is not divisible by ${h} heads`);
  });
  if (!(c.dropPathRate >= 0 && c.dropPathRate < 1)) throw new ConfigError('dropPathRate', `must be in [0, 1), got ${c.dropPathRate}`);
  return c;
}

/** Width of the last stage (the pooled feature size). */
export function numFeatures(c: SwinConfig): number {
  return c.embedDim * 2 ** (c.depths.length - 1);
}
