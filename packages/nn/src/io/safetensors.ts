/**
 * safetensors reader and writer (https://huggingface.co/docs/safetensors format): 8-byte LE header
 * length, JSON header `{name: {dtype, shape, data_offsets}, __metadata__}`, raw LE data.
 *
 * Hand-written because the format is small and the npm readers neither validate hostile files
 * (offsets out of range, overlaps, absurd header sizes) with typed errors nor cover every dtype we
 * need. Every byte range is checked against the file before use, so a malformed file can only
 * produce a {@link CheckpointFormatError}.
 */
import { CheckpointFormatError } from '../errors.js';
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

/**
 * Parses a safetensors file held in memory.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { parseSafetensors } from '@selfpatch/nn/io';
 * const { tensors } = parseSafetensors(readFileSync('model.safetensors'), { source: 'model.safetensors' });
 * console.log(tensors.get('backbone.pos_embed')?.shape);
 * ```
 */
export function parseSafetensors(bytes: Uint8Array, options: ReadOptions = {}): SafetensorsFile {
  const src = options.source ?? '<safetensors>';
  const fail = (msg: string): never => {
    throw new CheckpointFormatError(src, msg);
  };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, too short for a safetensors header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen64 = view.getBigUint64(0, true);
  if (headerLen64 > BigInt(Math.min(MAX_HEADER, bytes.length - 8))) {
    fail(`header length ${headerLen64} exceeds the file size (${bytes.length} bytes) or the 100 MB limit: truncated or not safetensors`);
  }
  const headerLen = Number(headerLen64);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (err) {
    fail(`header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const tensors = new Map<string, RawTensor>();
  let metadata: Record<string, string> = {};
  const ranges: Array<[number, number, string]> = [];
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
    ranges.push([begin, end, name]);
    if (options.only && !options.only(name)) continue;
    tensors.set(name, {
      dtype: dt,
      shape: (shape as number[]).slice(),
      data: decodeBytes(bytes.subarray(dataStart + begin, dataStart + end), dt, numel),
    });
  }
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (let i = 1; i < ranges.length; i++) {
    const prev = ranges[i - 1] as [number, number, string];
    const cur = ranges[i] as [number, number, string];
    if (cur[0] < prev[1]) fail(`tensors '${prev[2]}' and '${cur[2]}' overlap in the data section`);
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
