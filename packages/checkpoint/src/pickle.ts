/**
 * A restricted pickle reader for PyTorch checkpoints, in the spirit of `torch.load(weights_only=True)`:
 * it interprets the opcode stream as data, resolves globals only from an allow-list (tensors,
 * storages, `OrderedDict`, `argparse.Namespace`, `torch.Size`, ...), and never executes anything.
 *
 * Hand-written because no maintained JS library reads pickles safely with torch's persistent-id
 * tensor protocol. Every length is checked against the remaining input, so hostile input yields a
 * {@link CheckpointFormatError} (or {@link DisallowedPickleGlobalError}), never a hang or an
 * unbounded allocation.
 *
 * Python values map to: dict/OrderedDict → `Map` (converted by {@link toPlain}), list/tuple →
 * array, str → string, int → number (bigint beyond 2^53), float → number, bytes → Uint8Array,
 * None → null, objects (Namespace) → {@link PyObject}.
 */
import { CheckpointFormatError, DisallowedPickleGlobalError } from './errors.js';

/** An instance of an allow-listed Python class, with its attributes. */
export class PyObject {
  constructor(
    readonly className: string,
    public attrs: Record<string, unknown> = {},
  ) {}
}

/** A reference to an allow-listed Python global (a class or function). */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}

  get fullName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** How a global behaves when called (REDUCE) or instantiated (NEWOBJ). */
export type GlobalHandler = (args: unknown[], fullName: string) => unknown;

export interface UnpickleOptions {
  source?: string;
  /** Resolves persistent ids (torch storages). */
  persistentLoad?: (pid: unknown) => unknown;
  /** Callable globals by `module.name`. */
  callables: Record<string, GlobalHandler>;
  /** Globals that may be referenced as values but not called (storage types). */
  markers?: Record<string, unknown>;
}

/** Old module names pickled by Python 2 era code. */
const MODULE_ALIASES: Record<string, string> = { __builtin__: 'builtins', copy_reg: 'copyreg' };

export function unpickle(data: Uint8Array, options: UnpickleOptions): unknown {
  const src = options.source ?? '<pickle>';
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const dec = new TextDecoder('utf-8', { fatal: true });
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;

  const fail = (msg: string): never => {
    throw new CheckpointFormatError(src, `pickle: ${msg} (at byte ${pos})`);
  };
  const need = (n: number): void => {
    if (n < 0 || pos + n > data.length) fail(`unexpected end of data (need ${n} more bytes)`);
  };
  const u8 = (): number => {
    need(1);
    return data[pos++] as number;
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = view.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(data.length)) fail(`length ${v} exceeds the input`);
    return Number(v);
  };
  const bytes = (n: number): Uint8Array => {
    need(n);
    const b = data.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const utf8 = (n: number): string => {
    try {
      return dec.decode(bytes(n));
    } catch (err) {
      if (err instanceof CheckpointFormatError) throw err;
      return fail('invalid UTF-8 in a string');
    }
  };
  const latin1 = (b: Uint8Array): string => String.fromCharCode(...b.subarray(0, Math.min(b.length, 1 << 16)));
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) fail('unterminated text line');
    const s = latin1(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= (marks[marks.length - 1] as number))) fail('stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) fail('no MARK on the stack');
    return stack.splice(m as number);
  };
  const decodeLong = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i] as number);
    if (((b[b.length - 1] as number) & 0x80) !== 0) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const resolveGlobal = (module: string, name: string): unknown => {
    const mod = MODULE_ALIASES[module] ?? module;
    const full = `${mod}.${name}`;
    if (options.markers && full in options.markers) return options.markers[full];
    if (full in options.callables) return new PyGlobal(mod, name);
    throw new DisallowedPickleGlobalError(src, full);
  };
  const call = (fn: unknown, args: unknown): unknown => {
    if (!(fn instanceof PyGlobal)) return fail(`cannot call a non-callable value (${describe(fn)})`);
    if (!Array.isArray(args)) return fail(`arguments of ${fn.fullName} are not a tuple`);
    const handler = options.callables[fn.fullName] as GlobalHandler;
    return handler(args, fn.fullName);
  };
  const setItems = (target: unknown, items: unknown[]): void => {
    if (!(target instanceof Map)) fail(`SETITEM(S) on a non-dict (${describe(target)})`);
    if (items.length % 2 !== 0) fail('odd number of items for SETITEMS');
    for (let i = 0; i < items.length; i += 2) (target as Map<unknown, unknown>).set(hashKey(items[i], fail), items[i + 1]);
  };
  const appendItems = (target: unknown, items: unknown[]): void => {
    if (!Array.isArray(target)) fail(`APPEND(S) on a non-list (${describe(target)})`);
    (target as unknown[]).push(...items);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('unsupported pickle protocol');
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) fail(`STOP with ${stack.length} values on the stack`);
        return stack[0];
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x8f: // EMPTY_SET
        stack.push([]);
        break;
      case 0x64: {
        // DICT
        const items = popMark();
        const d = new Map();
        setItems(d, items);
        stack.push(d);
        break;
      }
      case 0x6c: // LIST
      case 0x74: // TUPLE
      case 0x91: // FROZENSET
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: // APPENDS
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(decodeLong(bytes(u8())));
        break;
      case 0x8b: {
        // LONG4
        const n = i32();
        if (n < 0) fail('negative LONG4 length');
        stack.push(decodeLong(bytes(n)));
        break;
      }
      case 0x49: {
        // INT (text)
        const s = line().trim();
        if (s === '00') stack.push(false);
        else if (s === '01') stack.push(true);
        else {
          if (!/^[-+]?\d+$/.test(s)) fail(`bad INT literal '${s.slice(0, 40)}'`);
          stack.push(Number(s));
        }
        break;
      }
      case 0x4c: {
        // LONG (text)
        const s = line().trim().replace(/L$/, '');
        if (!/^[-+]?\d+$/.test(s)) fail(`bad LONG literal '${s.slice(0, 40)}'`);
        const v = BigInt(s);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: {
        // BINFLOAT (big-endian)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      }
      case 0x46: {
        // FLOAT (text)
        const s = line().trim();
        const v = Number(s);
        if (Number.isNaN(v) && s.toLowerCase() !== 'nan') fail(`bad FLOAT literal '${s.slice(0, 40)}'`);
        stack.push(v);
        break;
      }
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8(u64()));
        break;
      case 0x54: {
        // BINSTRING (py2 str)
        const n = i32();
        if (n < 0) fail('negative BINSTRING length');
        stack.push(latin1(bytes(n)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1(bytes(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(Uint8Array.from(bytes(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(Uint8Array.from(bytes(u8())));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(Uint8Array.from(bytes(u64())));
        break;
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(call(fn, args));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        pop(); // kwargs
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = top();
        build(obj, state);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x70: {
        // PUT
        const idx = Number(line());
        if (!Number.isSafeInteger(idx)) fail('bad PUT index');
        memo.set(idx, top());
        break;
      }
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: // LONG_BINGET
      case 0x67: {
        // GET
        const idx = op === 0x68 ? u8() : op === 0x6a ? u32() : Number(line());
        if (!memo.has(idx)) fail(`memo key ${idx} is not defined`);
        stack.push(memo.get(idx));
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) fail('persistent id without a persistent loader');
        stack.push((options.persistentLoad as (p: unknown) => unknown)(pid));
        break;
      }
      case 0x50: {
        // PERSID
        const pid = line();
        if (!options.persistentLoad) fail('persistent id without a persistent loader');
        stack.push((options.persistentLoad as (p: unknown) => unknown)(pid));
        break;
      }
      default:
        fail(`unsupported or disallowed opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }

  function build(obj: unknown, state: unknown): void {
    if (obj instanceof PyObject) {
      let attrs = state;
      if (Array.isArray(state) && state.length === 2) attrs = state[0] ?? state[1];
      if (attrs instanceof Map) for (const [k, v] of attrs) obj.attrs[String(k)] = v;
      return;
    }
    // OrderedDict state (`_metadata`), Parameter state: metadata we do not need.
    if (obj instanceof Map || ArrayBuffer.isView((obj as { data?: unknown })?.data)) return;
    fail(`BUILD on an unsupported object (${describe(obj)})`);
  }
}

function hashKey(k: unknown, fail: (m: string) => never): unknown {
  if (typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean' || k === null) return k;
  if (Array.isArray(k)) {
    try {
      return JSON.stringify(k, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    } catch {
      return fail('dict key nests too deeply');
    }
  }
  return fail(`unhashable dict key (${describe(k)})`);
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PyGlobal) return v.fullName;
  if (v instanceof PyObject) return v.className;
  if (v instanceof Map) return 'dict';
  if (Array.isArray(v)) return 'list/tuple';
  return typeof v;
}

/** Deepest container nesting {@link toPlain} follows; real checkpoints nest a handful of levels. */
export const MAX_PICKLE_DEPTH = 1000;

/**
 * Converts unpickled values to plain JS: dicts with only string keys become null-prototype
 * objects (others stay `Map`s), Namespaces become objects of their attributes. Nesting deeper
 * than `maxDepth` is refused with a {@link CheckpointFormatError} (a hostile file could otherwise
 * exhaust the call stack).
 */
export function toPlain(value: unknown, options: { source?: string; maxDepth?: number } = {}): unknown {
  const maxDepth = options.maxDepth ?? MAX_PICKLE_DEPTH;
  const seen = new Map<unknown, unknown>();
  const visit = (v: unknown, depth: number): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (seen.has(v)) return seen.get(v);
    if (depth > maxDepth) throw new CheckpointFormatError(options.source ?? '<pickle>', `pickle nests containers more than ${maxDepth} deep; not a checkpoint`);
    if (v instanceof Map) {
      if ([...v.keys()].every((k) => typeof k === 'string')) {
        const obj: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
        seen.set(v, obj);
        for (const [k, x] of v) obj[k as string] = visit(x, depth + 1);
        return obj;
      }
      const m = new Map<unknown, unknown>();
      seen.set(v, m);
      for (const [k, x] of v) m.set(k, visit(x, depth + 1));
      return m;
    }
    if (v instanceof PyObject) {
      const obj: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      seen.set(v, obj);
      for (const [k, x] of Object.entries(v.attrs)) obj[k] = visit(x, depth + 1);
      return obj;
    }
    if (Array.isArray(v)) {
      const arr: unknown[] = [];
      seen.set(v, arr);
      for (const x of v) arr.push(visit(x, depth + 1));
      return arr;
    }
    return v;
  };
  return visit(value, 0);
}
