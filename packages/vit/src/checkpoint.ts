/**
 * Loading and exporting ViT weights as PyTorch writes them (docs/selfpatch.md §7, §8): whole training
 * checkpoints `{student, teacher, optimizer, epoch, args, ...}` or bare state dicts, keys with or
 * without `module.` (DDP) and `backbone.` (MultiCropWrapper) prefixes, `.pth` or safetensors.
 */
import {
  ConfigError,
  CheckpointFormatError,
  rawStateDict,
  withoutInit,
  type LoadStateDictResult,
  type RawTensor,
} from '@selfpatch/nn';
import { parseCheckpoint, selectStateDict } from '@selfpatch/checkpoint';
import { VIT_ARCHS, validateVitConfig, type VitConfig } from './config.js';
import { VisionTransformer, type VitOptions } from './vision-transformer.js';

export interface VitWeightsOptions {
  /** Entry of a training checkpoint: `teacher` (default when present), `student`, ... */
  which?: string;
  /** Name for error messages (the file path). */
  source?: string;
}

/**
 * The backbone's `{key: tensor}` from a parsed checkpoint, keys as the ViT expects them
 * (`module.` and `backbone.` stripped; heads and the SelfPatch `ca_head` dropped).
 */
export function vitStateDictFrom(parsed: unknown, options: VitWeightsOptions = {}): Record<string, RawTensor> {
  const sd = selectStateDict(parsed, { key: options.which, stripPrefixes: ['module.'], source: options.source });
  const keys = Object.keys(sd);
  if (keys.some((k) => k.startsWith('backbone.'))) {
    const out: Record<string, RawTensor> = {};
    for (const k of keys) if (k.startsWith('backbone.')) out[k.slice('backbone.'.length)] = sd[k] as RawTensor;
    return out;
  }
  // A bare backbone may carry the wrapper's heads beside it (selfpatch-train exports `ca_head.*`).
  return Object.fromEntries(Object.entries(sd).filter(([k]) => !HEAD_PREFIXES.some((p) => k.startsWith(p))));
}

/** Keys of the SelfPatch/DINO wrapper's heads, never part of the backbone. */
const HEAD_PREFIXES = ['ca_head.', 'c_head.', 'p_head.', 'head.'];

/**
 * Reads the architecture off the weights. `numHeads` is not stored in a state dict: it comes from
 * the standard presets by width (192→3, 384→6, 768→12) unless given.
 */
export function inferVitConfig(sd: Record<string, RawTensor>, overrides: Partial<VitConfig> = {}, source = '<checkpoint>'): VitConfig {
  const pw = sd['patch_embed.proj.weight'];
  const pe = sd['pos_embed'];
  if (!pw || !pe) throw new CheckpointFormatError(source, "no ViT backbone found (missing 'patch_embed.proj.weight' or 'pos_embed')");
  const [embedDim, inChans, patchSize] = pw.shape as [number, number, number];
  const layout = 'cls_token' in sd ? 'dino' : 'selfpatch';
  const n0 = (pe.shape[1] as number) - (layout === 'dino' ? 1 : 0);
  const g = Math.round(Math.sqrt(n0));
  if (g * g !== n0) throw new CheckpointFormatError(source, `pos_embed has ${n0} patch entries, not a square grid`);
  let depth = 0;
  while (`blocks.${depth}.norm1.weight` in sd) depth++;
  const fc1 = sd['blocks.0.mlp.fc1.weight'];
  const preset = Object.values(VIT_ARCHS).find((a) => a.embedDim === embedDim);
  const numHeads = overrides.numHeads ?? preset?.numHeads;
  if (numHeads === undefined) {
    throw new ConfigError('numHeads', `width ${embedDim} matches no preset (${Object.values(VIT_ARCHS).map((a) => a.embedDim).join(', ')}), and a state dict does not store the head count: give it (the numHeads option; --num-heads on the command lines) for ${source}`);
  }
  return validateVitConfig({
    layout,
    embedDim,
    depth,
    numHeads,
    patchSize,
    imgSize: g * patchSize,
    mlpRatio: fc1 ? (fc1.shape[0] as number) / embedDim : 4,
    qkvBias: 'blocks.0.attn.qkv.bias' in sd,
    layerNormEps: 1e-6,
    inChans,
    dropPathRate: 0,
    ...overrides,
  });
}

/**
 * Builds a ViT from checkpoint bytes (`.pth` or safetensors) and loads it strictly.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { vitFromCheckpoint } from '@selfpatch/vit';
 * const vit = vitFromCheckpoint(readFileSync('checkpoint.pth'), { which: 'teacher', source: 'checkpoint.pth' });
 * vit.eval();
 * ```
 */
export function vitFromCheckpoint(
  bytes: Uint8Array,
  options: VitWeightsOptions & { config?: Partial<VitConfig>; vit?: VitOptions } = {},
): VisionTransformer {
  const source = options.source ?? '<checkpoint>';
  const sd = vitStateDictFrom(parseCheckpoint(bytes, source), options);
  // A strict load replaces every parameter, so none is drawn.
  const vit = withoutInit(() => new VisionTransformer(inferVitConfig(sd, options.config, source), options.vit));
  vit.loadStateDict(sd, { context: source });
  return vit;
}

/** Loads backbone weights from a parsed checkpoint into an existing model. */
export function loadVitWeights(
  vit: VisionTransformer,
  parsed: unknown,
  options: VitWeightsOptions & { strict?: boolean } = {},
): LoadStateDictResult {
  return vit.loadStateDict(vitStateDictFrom(parsed, options), { strict: options.strict ?? true, context: options.source });
}

/**
 * The model's weights with official keys (optionally prefixed, e.g. `backbone.`), ready for
 * `serializePth` / `serializeSafetensors`.
 *
 * @example
 * ```ts
 * import { serializePth } from '@selfpatch/checkpoint';
 * writeFileSync('teacher.pth', serializePth({ teacher: exportVitStateDict(vit, 'backbone.') }));
 * ```
 */
export function exportVitStateDict(vit: VisionTransformer, prefix = ''): Record<string, RawTensor> {
  return rawStateDict(vit.stateDict(prefix));
}
