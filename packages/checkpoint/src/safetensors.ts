/**
 * safetensors reader and writer (https://huggingface.co/docs/safetensors format): 8-byte LE header
 * length, JSON header `{name: {dtype, shape, data_offsets}, __metadata__}`, raw LE data.
 *
 * Hand-written because the format is small and the npm readers neither validate hostile files
 * (offsets out of range, overlaps, absurd header sizes) with typed errors nor cover every dtype we
 * need. Every byte range is checked against the file before use, so a malformed file can only
 * produce a {@link CheckpointFormatError}.
 */
import { CheckpointFormatError } from './errors.js';
import { decodeBytes, encodeBytes, ITEM_SIZE, numelOf, type RawDType, type RawTensor } from './raw-tensor.js';

const FILE_DTYPES: Record<string, RawDType> = {
  F32: 'float32',
  F64: 'float64',
  F16: 'float16',
  BF16: 'bfloat16',
  I8: 'int8',
  I16: 'int16',
  I32: 'int32',
  I64: 'int64',
  U8: 'uint8',
  BOOL: 'bool',
};
const TO_FILE: Record<RawDType, string> = Object.fromEntries(
  Object.entries(FILE_DTYPES).map(([k, v]) => [v, k]),
) as Record<RawDType, string>;

/** Upper bound on the JSON header (the reference implementation uses 100 MB). */
const MAX_HEADER = 100_000_000;

export interface SafetensorsFile {
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

export interface ReadOptions {
  /** Name used in error messages (a path). */
  source?: string;
  /** Only decode these tensor names (others are validated but not copied). */
  only?: (name: string) => boolean;
}

/** One tensor entry of a validated safetensors header. */
export interface SafetensorsEntry {
  name: string;
  dtype: RawDType;
  shape: number[];
  /** Byte range within the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  entries: SafetensorsEntry[];
  /** Offset of the data section in the file. */
  dataStart: number;
  /** Bytes of the data section that entries cover (the largest `end`). */
  dataUsed: number;
}

/**
 * Parses and validates a safetensors header against the file's size without reading the data:
 * `prefix` holds at least the first 8 bytes (and, to succeed, the whole header). Every check of
 * {@link parseSafetensors} on offsets, dtypes, shapes and overlaps applies.
 *
 * @example
 * ```ts
 * const h = parseSafetensorsHeader(firstBytes, fileSize, { source: 'model.safetensors' });
 * console.log(h.metadata, h.entries.length);
 * ```
 */
export function parseSafetensorsHeader(prefix: Uint8Array, fileSize: number, options: { source?: string } = {}): SafetensorsHeader {
  const src = options.source ?? '<safetensors>';
  const fail = (msg: string): never => {
    throw new CheckpointFormatError(src, msg);
  };
  if (fileSize < 8 || prefix.length < 8) fail(`file is ${fileSize} bytes, too short for a safetensors header`);
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  const headerLen64 = view.getBigUint64(0, true);
  if (headerLen64 > BigInt(Math.min(MAX_HEADER, fileSize - 8))) {
    fail(`header length ${headerLen64} exceeds the file size (${fileSize} bytes) or the 100 MB limit: truncated or not safetensors`);
  }
  const headerLen = Number(headerLen64);
  if (prefix.length < 8 + headerLen) fail(`header needs ${8 + headerLen} bytes, only ${prefix.length} given`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(prefix.subarray(8, 8 + headerLen)));
  } catch (err) {
    fail(`header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = fileSize - dataStart;
  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail('__metadata__ is not an object');
      metadata = Object.fromEntries(Object.entries(entry as object).map(([k, v]) => [k, String(v)]));
      continue;
    }
    if (typeof entry !== 'object' || entry === null) fail(`entry '${name}' is not an object`);
    const { dtype, shape, data_offsets: offsets } = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const rawDtype = typeof dtype === 'string' ? FILE_DTYPES[dtype] : undefined;
    if (rawDtype === undefined) fail(`tensor '${name}' has unsupported dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataLen) {
      fail(`tensor '${name}' data_offsets [${begin}, ${end}] fall outside the ${dataLen}-byte data section (truncated file?)`);
    }
    const dt = rawDtype as RawDType;
    const numel = numelOf(shape as number[]);
    if (numel * ITEM_SIZE[dt] !== end - begin) {
      fail(`tensor '${name}': shape [${(shape as number[]).join(',')}] of ${dtype} needs ${numel * ITEM_SIZE[dt]} bytes, offsets give ${end - begin}`);
    }
    entries.push({ name, dtype: dt, shape: (shape as number[]).slice(), begin, end });
  }
  const ranges = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let k = 1; k < ranges.length; k++) {
    const prev = ranges[k - 1] as SafetensorsEntry;
    const cur = ranges[k] as SafetensorsEntry;
    if (cur.begin < prev.end) fail(`tensors '${prev.name}' and '${cur.name}' overlap in the data section`);
  }
  return { metadata, entries, dataStart, dataUsed: entries.reduce((m, e) => Math.max(m, e.end), 0) };
}

/**
 * Parses a safetensors file held in memory.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { parseSafetensors } from '@selfpatch/checkpoint';
 * const { tensors } = parseSafetensors(readFileSync('model.safetensors'), { source: 'model.safetensors' });
 * console.log(tensors.get('backbone.pos_embed')?.shape);
 * ```
 */
export function parseSafetensors(bytes: Uint8Array, options: ReadOptions = {}): SafetensorsFile {
  const { metadata, entries, dataStart } = parseSafetensorsHeader(bytes, bytes.length, options);
  const tensors = new Map<string, RawTensor>();
  for (const e of entries) {
    if (options.only && !options.only(e.name)) continue;
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: decodeBytes(bytes.subarray(dataStart + e.begin, dataStart + e.end), e.dtype, numelOf(e.shape)) });
  }
  return { tensors, metadata };
}

/**
 * Serialises tensors (in the given order) to safetensors bytes. `float16`/`bfloat16` tensors are
 * rounded to nearest even from their float32 values.
 *
 * @example
 * ```ts
 * const bytes = serializeSafetensors({ w: { dtype: 'float32', shape: [2], data: new Float32Array([1, 2]) } });
 * ```
 */
export function serializeSafetensors(
  tensors: Record<string, RawTensor> | Map<string, RawTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new CheckpointFormatError('<safetensors>', "'__metadata__' is reserved");
    const blob = encodeBytes(t);
    header[name] = { dtype: TO_FILE[t.dtype], shape: t.shape, data_offsets: [offset, offset + blob.length] };
    blobs.push(blob);
    offset += blob.length;
  }
  let json = JSON.stringify(header);
  const pad = (8 - ((new TextEncoder().encode(json).length + 8) % 8)) % 8;
  json += ' '.repeat(pad);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const b of blobs) {
    out.set(b, pos);
    pos += b.length;
  }
  return out;
}
