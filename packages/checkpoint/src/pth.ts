/**
 * PyTorch `.pth` checkpoints (`torch.save` zip format, torch >= 1.6): read without executing
 * anything, and write files that `torch.load(f, weights_only=True)` accepts.
 *
 * Layout: `<archive>/data.pkl` (the pickled object; tensors are `_rebuild_tensor_v2` calls whose
 * storages are persistent ids `('storage', torch.FloatStorage, key, location, numel)`),
 * `<archive>/data/<key>` (raw little-endian storage bytes), `<archive>/version`.
 */
import { CheckpointFormatError } from './errors.js';
import { decodeBytes, encodeBytes, isRawTensor, ITEM_SIZE, numelOf, type RawData, type RawDType, type RawTensor } from './raw-tensor.js';
import { PyObject, toPlain, unpickle, type GlobalHandler } from './pickle.js';
import { writeZip, ZipReader } from './zip.js';

const STORAGE_TYPES: Record<string, RawDType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

class StorageType {
  constructor(readonly dtype: RawDType) {}
}

interface Storage {
  dtype: RawDType;
  numel: number;
  bytes: Uint8Array;
}

export interface PthReadOptions {
  /** Name used in error messages. */
  source?: string;
  /**
   * Upper bound on the elements materialised across all tensors (strided views can repeat
   * storage elements). Default: 4 × the file size in bytes, at least 16 M.
   */
  maxElements?: number;
}

/**
 * Reads a `.pth` file into plain JS: dicts → objects (or `Map`s for non-string keys), tensors →
 * {@link RawTensor}, `argparse.Namespace` → object of its attributes.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { parsePth } from '@selfpatch/checkpoint';
 * const ckpt = parsePth(readFileSync('checkpoint.pth'), { source: 'checkpoint.pth' }) as Record<string, unknown>;
 * const teacher = ckpt.teacher as Record<string, RawTensor>;
 * ```
 */
export function parsePth(bytes: Uint8Array, options: PthReadOptions = {}): unknown {
  const src = options.source ?? '<pth>';
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] === 0x02) {
    throw new CheckpointFormatError(
      src,
      'legacy (torch < 1.6) non-zip format is not supported; re-save it with a current torch: torch.save(torch.load(f), f2)',
    );
  }
  if (bytes.length >= 2 && bytes[0] === 0x80 && (bytes[1] as number) >= 3 && (bytes[1] as number) <= 5) {
    throw new CheckpointFormatError(
      src,
      `a bare pickle (protocol ${bytes[1]}), not a torch.save file: save the state dict with torch.save(state_dict, f) (a zip archive), or as safetensors`,
    );
  }
  if (bytes.length === 0) throw new CheckpointFormatError(src, 'empty file (0 bytes): not a checkpoint');
  if (bytes.length < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b) {
    throw new CheckpointFormatError(src, 'not a PyTorch zip checkpoint (missing PK signature)');
  }
  const zip = new ZipReader(bytes, src);
  const pkl = zip.names().find((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (pkl === undefined) throw new CheckpointFormatError(src, 'archive has no data.pkl member: not a torch.save file');
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  const byteorder = zip.entries.has(`${prefix}byteorder`) ? new TextDecoder().decode(zip.read(`${prefix}byteorder`)) : 'little';
  if (byteorder.trim() !== 'little') throw new CheckpointFormatError(src, `byteorder '${byteorder}' is not supported`);

  const maxElements = options.maxElements ?? Math.max(4 * bytes.length, 1 << 24);
  let materialised = 0;
  const storages = new Map<string, Storage>();
  const fail = (msg: string): never => {
    throw new CheckpointFormatError(src, msg);
  };

  const persistentLoad = (pid: unknown): Storage => {
    if (!Array.isArray(pid) || pid.length < 5 || pid[0] !== 'storage') fail(`unsupported persistent id ${JSON.stringify(pid)?.slice(0, 80)}`);
    const [, type, key, , numel] = pid as [string, unknown, unknown, unknown, unknown];
    if (!(type instanceof StorageType)) return fail('persistent id without a storage type');
    if (typeof key !== 'string' || !/^[\w.-]+$/.test(key)) return fail(`bad storage key ${String(key).slice(0, 40)}`);
    if (!Number.isSafeInteger(numel) || (numel as number) < 0) return fail(`storage '${key}' has a bad element count`);
    const cached = storages.get(key);
    if (cached) return cached;
    const member = `${prefix}data/${key}`;
    if (!zip.entries.has(member)) fail(`storage '${key}' is referenced but missing from the archive`);
    const raw = zip.read(member);
    const needBytes = (numel as number) * ITEM_SIZE[type.dtype];
    if (raw.length < needBytes) fail(`storage '${key}' has ${raw.length} bytes, needs ${needBytes} (truncated?)`);
    const st: Storage = { dtype: type.dtype, numel: numel as number, bytes: raw };
    storages.set(key, st);
    return st;
  };

  const rebuildTensor: GlobalHandler = (args, name) => {
    const [storage, offset, size, stride] = args as [unknown, unknown, unknown, unknown];
    const st = storage as Storage;
    if (typeof st !== 'object' || st === null || !('bytes' in st)) return fail(`${name}: first argument is not a storage`);
    const isIntArray = (a: unknown): a is number[] => Array.isArray(a) && a.every((d) => Number.isSafeInteger(d) && d >= 0);
    if (!isIntArray(size) || !isIntArray(stride) || size.length !== stride.length) {
      return fail(`${name}: invalid size/stride ${JSON.stringify(size)}/${JSON.stringify(stride)}`);
    }
    if (!Number.isSafeInteger(offset) || (offset as number) < 0) return fail(`${name}: invalid storage offset`);
    const numel = numelOf(size);
    materialised += numel;
    if (materialised > maxElements) {
      fail(`tensors need more than ${maxElements} elements in all; raise maxElements if the file is trusted`);
    }
    const shape = size.slice();
    if (numel === 0) return { dtype: st.dtype, shape, data: decodeBytes(new Uint8Array(0), st.dtype, 0) } satisfies RawTensor;
    let maxIndex = offset as number;
    for (let i = 0; i < size.length; i++) maxIndex += ((size[i] as number) - 1) * (stride[i] as number);
    if (maxIndex >= st.numel) fail(`${name}: view [${size.join(',')}] with stride [${stride.join(',')}] at offset ${offset} exceeds its storage of ${st.numel} elements`);
    const isz = ITEM_SIZE[st.dtype];
    const off = offset as number;
    if (isContiguous(size, stride)) {
      return { dtype: st.dtype, shape, data: decodeBytes(st.bytes.subarray(off * isz, (off + numel) * isz), st.dtype, numel) } satisfies RawTensor;
    }
    const span = decodeBytes(st.bytes.subarray(off * isz, (maxIndex + 1) * isz), st.dtype, maxIndex + 1 - off);
    return { dtype: st.dtype, shape, data: gatherStrided(span, size, stride, numel) } satisfies RawTensor;
  };

  const callables: Record<string, GlobalHandler> = {
    'collections.OrderedDict': () => new Map(),
    'builtins.dict': () => new Map(),
    'builtins.set': (a) => (Array.isArray(a[0]) ? [...(a[0] as unknown[])] : []),
    'builtins.frozenset': (a) => (Array.isArray(a[0]) ? [...(a[0] as unknown[])] : []),
    'torch._utils._rebuild_tensor_v2': rebuildTensor,
    'torch._utils._rebuild_tensor': rebuildTensor,
    'torch._utils._rebuild_parameter': (a) => a[0],
    'torch._utils._rebuild_parameter_with_state': (a) => a[0],
    'torch.Size': (a) => (Array.isArray(a[0]) ? [...(a[0] as unknown[])] : []),
    'torch.device': (a) => a.map(String).join(':'),
    'argparse.Namespace': () => new PyObject('argparse.Namespace'),
    '_codecs.encode': (a) => Uint8Array.from(String(a[0]), (c) => c.charCodeAt(0) & 0xff),
  };
  const markers: Record<string, unknown> = {};
  for (const [name, dtype] of Object.entries(STORAGE_TYPES)) markers[`torch.${name}`] = new StorageType(dtype);

  const obj = unpickle(zip.read(pkl), { source: `${src}:${pkl}`, callables, markers, persistentLoad });
  return toPlain(obj, { source: `${src}:${pkl}` });
}

function isContiguous(size: number[], stride: number[]): boolean {
  let expected = 1;
  for (let i = size.length - 1; i >= 0; i--) {
    if (size[i] !== 1 && stride[i] !== expected) return false;
    expected *= size[i] as number;
  }
  return true;
}

function gatherStrided(span: RawData, size: number[], stride: number[], numel: number): RawData {
  const Ctor = span.constructor as { new (n: number): RawData };
  const out = new Ctor(numel);
  const rank = size.length;
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let n = 0; n < numel; n++) {
    (out as unknown as unknown[])[n] = (span as unknown as unknown[])[src];
    for (let d = rank - 1; d >= 0; d--) {
      idx[d] = (idx[d] as number) + 1;
      src += stride[d] as number;
      if ((idx[d] as number) < (size[d] as number)) break;
      src -= (size[d] as number) * (stride[d] as number);
      idx[d] = 0;
    }
  }
  return out;
}

// --- writer ---------------------------------------------------------------------------------

/** Forces a JS number to be pickled as a Python float (integral numbers become ints otherwise). */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** Pickled as a Python tuple (arrays become lists). */
export class PyTuple {
  readonly items: unknown[];
  constructor(...items: unknown[]) {
    this.items = items;
  }
}

export interface PthWriteOptions {
  /** Top-level folder inside the zip; torch uses the file stem, any name loads. Default `archive`. */
  archiveName?: string;
  /** Write dicts whose values are all tensors as `collections.OrderedDict` (like state dicts). Default true. */
  stateDictsAsOrderedDict?: boolean;
}

const STORAGE_NAME: Record<RawDType, string> = Object.fromEntries(
  Object.entries(STORAGE_TYPES).map(([k, v]) => [v, k]),
) as Record<RawDType, string>;

/** Byte sink for pickle opcodes. */
class Sink {
  private chunks: Uint8Array[] = [];
  private cur = new Uint8Array(1 << 16);
  private len = 0;
  private size = 0;

  byte(b: number): void {
    if (this.len === this.cur.length) this.flush();
    this.cur[this.len++] = b;
    this.size++;
  }

  bytes(b: Uint8Array): void {
    for (const x of b) this.byte(x);
  }

  u32(v: number): void {
    this.byte(v & 0xff);
    this.byte((v >>> 8) & 0xff);
    this.byte((v >>> 16) & 0xff);
    this.byte((v >>> 24) & 0xff);
  }

  private flush(): void {
    this.chunks.push(this.cur.slice(0, this.len));
    this.cur = new Uint8Array(1 << 16);
    this.len = 0;
  }

  result(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.size);
    let p = 0;
    for (const c of this.chunks) {
      out.set(c, p);
      p += c.length;
    }
    return out;
  }
}

/**
 * Serialises nested dicts/lists/numbers/strings/{@link RawTensor}s to `.pth` bytes (pickle
 * protocol 2, the opcodes torch's `weights_only` loader accepts). Non-integral numbers are written
 * as Python floats, which torch >= 2.0 reads under `weights_only=True`; torch 1.13's restricted
 * loader has no float opcode, so checkpoints meant for it should keep floats out (or load with
 * `weights_only=False`).
 *
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { serializePth } from '@selfpatch/checkpoint';
 * writeFileSync('teacher.pth', serializePth({ teacher: stateDict, epoch: 10 }));
 * // python: torch.load('teacher.pth', weights_only=True)['teacher']
 * ```
 */
export function serializePth(value: unknown, options: PthWriteOptions = {}): Uint8Array {
  const archive = options.archiveName ?? 'archive';
  const ordered = options.stateDictsAsOrderedDict ?? true;
  const enc = new TextEncoder();
  const s = new Sink();
  const storages: Array<{ key: string; tensor: RawTensor }> = [];
  const storageKeys = new Map<RawTensor, string>();
  const active = new Set<unknown>();

  const str = (text: string): void => {
    const b = enc.encode(text);
    s.byte(0x58);
    s.u32(b.length);
    s.bytes(b);
  };
  const global = (module: string, name: string): void => {
    s.byte(0x63);
    s.bytes(enc.encode(`${module}\n${name}\n`));
  };
  const int = (v: number | bigint): void => {
    if (typeof v === 'number' && v >= 0 && v < 256) {
      s.byte(0x4b);
      s.byte(v);
    } else if (typeof v === 'number' && v >= -2147483648 && v <= 2147483647) {
      s.byte(0x4a);
      s.u32(v >>> 0);
    } else {
      let big = BigInt(v);
      const out: number[] = [];
      for (;;) {
        out.push(Number(big & 0xffn));
        big >>= 8n;
        const sign = ((out[out.length - 1] as number) & 0x80) !== 0;
        if ((big === 0n && !sign) || (big === -1n && sign)) break;
      }
      s.byte(0x8a);
      s.byte(out.length);
      s.bytes(Uint8Array.from(out));
    }
  };
  const float = (v: number): void => {
    s.byte(0x47);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, false);
    s.bytes(b);
  };
  const tuple = (items: unknown[]): void => {
    if (items.length === 0) return s.byte(0x29);
    if (items.length <= 3) {
      items.forEach(write);
      return s.byte([0x85, 0x86, 0x87][items.length - 1] as number);
    }
    s.byte(0x28);
    items.forEach(write);
    s.byte(0x74);
  };
  const tensor = (t: RawTensor): void => {
    let key = storageKeys.get(t);
    if (key === undefined) {
      key = String(storages.length);
      storages.push({ key, tensor: t });
      storageKeys.set(t, key);
    }
    const shape = t.shape;
    const stride = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
    global('torch._utils', '_rebuild_tensor_v2');
    s.byte(0x28); // MARK
    // persistent id ('storage', torch.XStorage, key, 'cpu', numel)
    s.byte(0x28);
    str('storage');
    global('torch', STORAGE_NAME[t.dtype]);
    str(key);
    str('cpu');
    int(numelOf(shape));
    s.byte(0x74);
    s.byte(0x51); // BINPERSID
    int(0);
    tuple(shape);
    tuple(stride);
    s.byte(0x89); // requires_grad False
    global('collections', 'OrderedDict');
    s.byte(0x29);
    s.byte(0x52);
    s.byte(0x74); // TUPLE
    s.byte(0x52); // REDUCE
  };
  const dictEntries = (entries: Array<[unknown, unknown]>, asOrdered: boolean): void => {
    if (asOrdered) {
      global('collections', 'OrderedDict');
      s.byte(0x29);
      s.byte(0x52);
    } else {
      s.byte(0x7d);
    }
    for (let i = 0; i < entries.length; i += 1000) {
      s.byte(0x28);
      for (const [k, v] of entries.slice(i, i + 1000)) {
        write(k);
        write(v);
      }
      s.byte(0x75);
    }
  };

  function write(v: unknown): void {
    if (v === null || v === undefined) return s.byte(0x4e);
    if (v === true) return s.byte(0x88);
    if (v === false) return s.byte(0x89);
    if (typeof v === 'string') return str(v);
    if (typeof v === 'bigint') return int(v);
    if (typeof v === 'number') return Number.isInteger(v) ? int(v) : float(v);
    if (v instanceof PyFloat) return float(v.value);
    if (isRawTensor(v)) return tensor(v);
    if (active.has(v)) throw new CheckpointFormatError('<pth writer>', 'cyclic structure cannot be written');
    active.add(v);
    try {
      if (v instanceof PyTuple) return tuple(v.items);
      if (Array.isArray(v)) {
        s.byte(0x5d);
        if (v.length > 0) {
          s.byte(0x28);
          v.forEach(write);
          s.byte(0x65);
        }
        return;
      }
      if (v instanceof Map) {
        const entries = [...v.entries()];
        return dictEntries(entries, ordered && entries.length > 0 && entries.every(([, x]) => isRawTensor(x)));
      }
      if (typeof v === 'object') {
        const entries = Object.entries(v as Record<string, unknown>);
        return dictEntries(entries, ordered && entries.length > 0 && entries.every(([, x]) => isRawTensor(x)));
      }
      throw new CheckpointFormatError('<pth writer>', `cannot pickle a value of type ${typeof v}`);
    } finally {
      active.delete(v);
    }
  }

  s.byte(0x80);
  s.byte(2);
  write(value);
  s.byte(0x2e);
  const members = [{ name: `${archive}/data.pkl`, data: s.result() }];
  members.push({ name: `${archive}/byteorder`, data: enc.encode('little') });
  for (const { key, tensor: t } of storages) members.push({ name: `${archive}/data/${key}`, data: encodeBytes(t) });
  members.push({ name: `${archive}/version`, data: enc.encode('3\n') });
  return writeZip(members);
}
