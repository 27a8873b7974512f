/**
 * Format detection and state-dict extraction for checkpoint files as people actually have them:
 * bare state dicts or whole training checkpoints (`{student, teacher, optimizer, ...}`), with
 * `module.` (DDP) and `backbone.` (MultiCropWrapper) prefixes, in `.pth` or safetensors.
 */
import { CheckpointFormatError } from '../errors.js';
import { isRawTensor, type RawTensor } from './raw-tensor.js';
import { parsePth } from './pth.js';
import { parseSafetensors } from './safetensors.js';

export type CheckpointFormat = 'pth' | 'safetensors';

/** Detects the format from the first bytes (zip → pth, else safetensors header). */
export function detectFormat(bytes: Uint8Array): CheckpointFormat {
  if (bytes.length >= 2 && bytes[0] === 0x50 && bytes[1] === 0x4b) return 'pth';
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] === 0x02) return 'pth';
  return 'safetensors';
}

/**
 * Parses either format. safetensors gives `{name: RawTensor}`; `.pth` gives whatever was pickled.
 */
export function parseCheckpoint(bytes: Uint8Array, source = '<checkpoint>'): unknown {
  if (detectFormat(bytes) === 'pth') return parsePth(bytes, { source });
  return Object.fromEntries(parseSafetensors(bytes, { source }).tensors);
}

export interface SelectStateDictOptions {
  /**
   * Which entry of a training checkpoint to take (e.g. `teacher`, `student`, `model`,
   * `state_dict`). Default: `teacher`, then `model`, `state_dict`, `student`, when present.
   */
  key?: string;
  /** Prefixes removed from every key, in order, where present. Default `['module.']`. */
  stripPrefixes?: string[];
  /** Only keep keys starting with this (after stripping), removing it. */
  subtree?: string;
  source?: string;
}

const DEFAULT_KEYS = ['teacher', 'model', 'state_dict', 'student'];

/**
 * Finds the flat `{key: RawTensor}` state dict inside a parsed checkpoint.
 *
 * @example
 * ```ts
 * const ckpt = parseCheckpoint(readFileSync('checkpoint.pth'), 'checkpoint.pth');
 * const sd = selectStateDict(ckpt, { key: 'teacher', stripPrefixes: ['module.', 'backbone.'] });
 * ```
 */
export function selectStateDict(parsed: unknown, options: SelectStateDictOptions = {}): Record<string, RawTensor> {
  const src = options.source ?? '<checkpoint>';
  if (typeof parsed !== 'object' || parsed === null || parsed instanceof Map) {
    throw new CheckpointFormatError(src, 'checkpoint is not a dict of tensors or of state dicts');
  }
  const top = parsed as Record<string, unknown>;
  let sd: Record<string, unknown> = top;
  const values = Object.values(top);
  const isFlat = values.length > 0 && values.every(isRawTensor);
  if (options.key !== undefined) {
    const entry = top[options.key];
    if (typeof entry !== 'object' || entry === null) {
      throw new CheckpointFormatError(src, `checkpoint has no entry '${options.key}' (it has: ${Object.keys(top).join(', ')})`);
    }
    sd = entry as Record<string, unknown>;
  } else if (!isFlat) {
    const found = DEFAULT_KEYS.find((k) => typeof top[k] === 'object' && top[k] !== null);
    if (found === undefined) {
      throw new CheckpointFormatError(src, `no state dict found; top-level keys are: ${Object.keys(top).join(', ')}`);
    }
    sd = top[found] as Record<string, unknown>;
  }
  const strip = options.stripPrefixes ?? ['module.'];
  const out: Record<string, RawTensor> = {};
  for (const [rawKey, value] of Object.entries(sd)) {
    if (!isRawTensor(value)) continue;
    let key = rawKey;
    for (const p of strip) if (key.startsWith(p)) key = key.slice(p.length);
    if (options.subtree !== undefined) {
      if (!key.startsWith(options.subtree)) continue;
      key = key.slice(options.subtree.length);
    }
    out[key] = value;
  }
  if (Object.keys(out).length === 0) throw new CheckpointFormatError(src, 'the selected entry holds no tensors');
  return out;
}
