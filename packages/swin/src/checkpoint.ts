/**
 * Loading Swin weights as the official code writes them (docs/swin-moby.md §1): bare state dicts,
 * MoBY training checkpoints (`model` → `encoder.*` / `encoder_k.*`), `module.`-prefixed DDP keys,
 * `.pth` or safetensors. The architecture is read off the weights; the derived buffers
 * (`relative_position_index`, `attn_mask`) are rebuilt for the input size, not loaded.
 */
import { CheckpointFormatError, ShapeError, withoutInit, type RawTensor } from '@selfpatch/nn';
import { parseCheckpoint, selectStateDict } from '@selfpatch/checkpoint';
import { swinTiny, validateSwinConfig, type SwinConfig } from './config.js';
import { SwinTransformer } from './swin-transformer.js';

/** True when the keys look like a Swin backbone (after prefix stripping). */
export function isSwinStateDict(sd: Record<string, unknown>): boolean {
  return 'layers.0.blocks.0.attn.relative_position_bias_table' in sd;
}

/**
 * The backbone's `{key: tensor}`: `module.` stripped, then the first of `encoder_k.` (MoBY's
 * target encoder, the one to evaluate), `encoder.`, `backbone.` that matches.
 */
export function swinStateDictFrom(parsed: unknown, options: { which?: string; source?: string } = {}): Record<string, RawTensor> {
  const sd = selectStateDict(parsed, { key: options.which, stripPrefixes: ['module.'], source: options.source });
  for (const prefix of ['encoder_k.', 'encoder.', 'backbone.']) {
    const sub = Object.fromEntries(Object.entries(sd).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
    if (isSwinStateDict(sub)) return sub;
  }
  return sd;
}

/** Reads embed dim, depths, heads, window and patch size off a Swin state dict. */
export function inferSwinConfig(sd: Record<string, RawTensor>, overrides: Partial<SwinConfig> = {}, source = '<checkpoint>'): SwinConfig {
  const pw = sd['patch_embed.proj.weight'];
  if (!pw || !isSwinStateDict(sd)) throw new CheckpointFormatError(source, "no Swin backbone found (missing 'patch_embed.proj.weight' or 'layers.0.blocks.0.attn.relative_position_bias_table')");
  const [embedDim, inChans, patchSize] = pw.shape as [number, number, number];
  const depths: number[] = [];
  const numHeads: number[] = [];
  for (let i = 0; `layers.${i}.blocks.0.norm1.weight` in sd; i++) {
    let d = 0;
    while (`layers.${i}.blocks.${d}.norm1.weight` in sd) d++;
    depths.push(d);
    const table = sd[`layers.${i}.blocks.0.attn.relative_position_bias_table`] as RawTensor;
    numHeads.push(table.shape[1] as number);
  }
  const table0 = sd['layers.0.blocks.0.attn.relative_position_bias_table'] as RawTensor;
  const side = Math.round(Math.sqrt(table0.shape[0] as number));
  if (side * side !== table0.shape[0] || side % 2 === 0) throw new ShapeError(`${source}: relative_position_bias_table has ${table0.shape[0]} rows, not (2·window−1)²`);
  return validateSwinConfig(swinTiny({ embedDim, inChans, patchSize, depths, numHeads, windowSize: (side + 1) / 2, ...overrides }));
}

/** A Swin built from a backbone state dict (derived buffers rebuilt, classifier head ignored). */
export function swinFromStateDict(sd: Record<string, RawTensor>, source = '<checkpoint>', config: Partial<SwinConfig> = {}): SwinTransformer {
  // Every parameter is loaded below (a missing one is an error), so none is drawn.
  const swin = withoutInit(() => new SwinTransformer(inferSwinConfig(sd, config, source)));
  const derived = (k: string) => k.endsWith('relative_position_index') || k.endsWith('attn_mask');
  const params = Object.fromEntries(Object.entries(sd).filter(([k]) => !derived(k)));
  const res = swin.loadStateDict(params, { strict: false, context: source });
  const missing = res.missing.filter((k) => !derived(k));
  const unexpected = res.unexpected.filter((k) => k !== 'head.weight' && k !== 'head.bias');
  if (missing.length || unexpected.length) {
    swin.dispose();
    throw new CheckpointFormatError(source, `Swin weights do not match: missing ${missing.slice(0, 5).join(', ') || 'none'}; unexpected ${unexpected.slice(0, 5).join(', ') || 'none'}`);
  }
  return swin;
}

/**
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * const swin = swinFromCheckpoint(readFileSync('moby_swin_t_300ep_pretrained.pth'), { source: 'moby.pth' });
 * ```
 */
export function swinFromCheckpoint(bytes: Uint8Array, options: { which?: string; source?: string; config?: Partial<SwinConfig> } = {}): SwinTransformer {
  const source = options.source ?? '<checkpoint>';
  return swinFromStateDict(swinStateDictFrom(parseCheckpoint(bytes, source), options), source, options.config);
}
