/**
 * Format detection and state-dict extraction for checkpoint files as people actually have them:
 * bare state dicts or whole training checkpoints (`{student, teacher, optimizer, ...}`), with
 * `module.` (DDP) and `backbone.` (MultiCropWrapper) prefixes, in `.pth` or safetensors.
 */
import { CheckpointFormatError } from './errors.js';
import { isRawTensor, type RawTensor } from './raw-tensor.js';
import { parsePth } from './pth.js';
import { parseSafetensors } from './safetensors.js';

export type CheckpointFormat = 'pth' | 'safetensors';

/**
 * Detects the format from the first bytes (zip or a pickle protocol opcode → pth, else a
 * safetensors header), or from a `.pth`/`.pt`/`.bin` name, so a damaged PyTorch file is reported
 * as one rather than as a bad safetensors header.
 */
export function detectFormat(bytes: Uint8Array, source = ''): CheckpointFormat {
  if (bytes.length >= 2 && bytes[0] === 0x50 && bytes[1] === 0x4b) return 'pth';
  if (bytes.length >= 2 && bytes[0] === 0x80 && (bytes[1] as number) >= 2 && (bytes[1] as number) <= 5) return 'pth';
  if (/\.(pth|pt|bin|ckpt)$/i.test(source)) return 'pth';
  return 'safetensors';
}

/**
 * Parses either format. safetensors gives `{name: RawTensor}`; `.pth` gives whatever was pickled.
 */
export function parseCheckpoint(bytes: Uint8Array, source = '<checkpoint>'): unknown {
  if (bytes.length === 0) throw new CheckpointFormatError(source, 'empty file (0 bytes): not a checkpoint');
  if (detectFormat(bytes, source) === 'pth') return parsePth(bytes, { source });
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

function listKeys(top: Record<string, unknown>): string {
  const keys = Object.keys(top);
  return keys.slice(0, 12).join(', ') + (keys.length > 12 ? `, ... (${keys.length} in all)` : '');
}

/**
 * A flat safetensors training checkpoint stores its parts as `teacher.backbone.*`,
 * `student.head.*`, `model.encoder_k.*`: the entries of {@link DEFAULT_KEYS} become nested state
 * dicts so they are found and selected like the entries of a `.pth` training checkpoint. A bare
 * state dict (no key under one of those prefixes) is returned as it is.
 */
function nestFlatEntries(top: Record<string, unknown>, wanted?: string): Record<string, unknown> {
  const heads = wanted === undefined ? DEFAULT_KEYS : [...DEFAULT_KEYS, wanted];
  const values = Object.values(top);
  if (values.length === 0 || !values.every(isRawTensor)) return top;
  const entries = new Map<string, Record<string, unknown>>();
  for (const [k, v] of Object.entries(top)) {
    const dot = k.indexOf('.');
    const head = dot > 0 ? k.slice(0, dot) : '';
    if (!heads.includes(head)) continue;
    let e = entries.get(head);
    if (!e) entries.set(head, (e = {}));
    e[k.slice(dot + 1)] = v;
  }
  if (entries.size === 0) return top;
  return { ...Object.fromEntries(entries), ...Object.fromEntries(Object.entries(top).filter(([k]) => !entries.has(k.slice(0, Math.max(0, k.indexOf('.')))))) };
}

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
  const top = nestFlatEntries(parsed as Record<string, unknown>, options.key);
  let sd: Record<string, unknown> = top;
  const values = Object.values(top);
  const isFlat = values.length > 0 && values.every(isRawTensor);
  if (options.key !== undefined) {
    const entry = top[options.key];
    if (typeof entry !== 'object' || entry === null) {
      throw new CheckpointFormatError(src, `checkpoint has no entry '${options.key}' (it has: ${listKeys(top)})`);
    }
    sd = entry as Record<string, unknown>;
  } else if (!isFlat) {
    const found = DEFAULT_KEYS.find((k) => typeof top[k] === 'object' && top[k] !== null);
    if (found === undefined) {
      throw new CheckpointFormatError(src, `no state dict found; top-level keys are: ${listKeys(top)}`);
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
