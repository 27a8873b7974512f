import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  parseSafetensors,
  serializeSafetensors,
  parsePth,
  serializePth,
  PyTuple,
  PyFloat,
  selectStateDict,
  parseCheckpoint,
  type RawTensor,
  floatToHalf,
  halfToFloat,
  floatToBfloat16,
  bfloat16ToFloat,
  CheckpointFormatError,
} from '../src/index.js';
import { deeplyNestedPth, requirePythonTorch } from '../src/testing.js';

/** A small seeded generator for test data and corruptions (mulberry32; Box-Muller normals). */
class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  nextU32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.nextU32() / 2 ** 32) * n);
  }
  normal(): number {
    const u = (this.nextU32() + 1) / (2 ** 32 + 1);
    const v = this.nextU32() / 2 ** 32;
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

const here = dirname(fileURLToPath(import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'selfpatch-io-'));

const sample: Record<string, RawTensor> = {
  f32: { dtype: 'float32', shape: [2, 3], data: Float32Array.from([1, -2.5, 3e-8, 4e10, -0, 6]) },
  f64: { dtype: 'float64', shape: [2], data: Float64Array.from([Math.PI, -1e-300]) },
  f16: { dtype: 'float16', shape: [3], data: Float32Array.from([0.5, -65504, 6.103515625e-5]) },
  bf16: { dtype: 'bfloat16', shape: [2], data: Float32Array.from([1.5, -3.25]) },
  i32: { dtype: 'int32', shape: [2], data: Int32Array.from([2147483647, -2147483648]) },
  i64: { dtype: 'int64', shape: [2], data: BigInt64Array.from([2n ** 40n, -7n]) },
  u8: { dtype: 'uint8', shape: [3], data: Uint8Array.from([0, 128, 255]) },
  bool: { dtype: 'bool', shape: [2, 1], data: Uint8Array.from([1, 0]) },
  scalar: { dtype: 'float32', shape: [], data: Float32Array.from([7]) },
  empty: { dtype: 'float32', shape: [0, 4], data: new Float32Array(0) },
};

function assertSameTensor(a: RawTensor | undefined, b: RawTensor, name: string): void {
  assert.ok(a, `${name} missing`);
  assert.equal(a.dtype, b.dtype, `${name} dtype`);
  assert.deepEqual(a.shape, b.shape, `${name} shape`);
  assert.deepEqual(Array.from(a.data as ArrayLike<number>, String), Array.from(b.data as ArrayLike<number>, String), `${name} values`);
}

test('half and bfloat16 conversions round to nearest even and cover subnormals/specials', () => {
  for (const v of [0, 1, -2, 65504, 6.103515625e-5, 5.960464477539063e-8, Infinity, -Infinity]) {
    assert.equal(halfToFloat(floatToHalf(v)), v);
  }
  assert.ok(Number.isNaN(halfToFloat(floatToHalf(NaN))));
  assert.equal(halfToFloat(floatToHalf(1 + 2 ** -11)), 1); // tie -> even
  assert.equal(halfToFloat(floatToHalf(1 + 3 * 2 ** -11)), 1 + 2 ** -9);
  assert.equal(halfToFloat(floatToHalf(70000)), Infinity);
  assert.equal(bfloat16ToFloat(floatToBfloat16(1.5)), 1.5);
  assert.equal(bfloat16ToFloat(floatToBfloat16(1 + 2 ** -8)), 1); // tie -> even
});

test('safetensors round-trips every dtype, shape and metadata', () => {
  const bytes = serializeSafetensors(sample, { format: 'pt' });
  const { tensors, metadata } = parseSafetensors(bytes);
  assert.deepEqual(metadata, { format: 'pt' });
  for (const [k, v] of Object.entries(sample)) assertSameTensor(tensors.get(k), v, k);
  // The header is 8-byte aligned as the reference writer does.
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(headerLen % 8, 0);
});

test('safetensors reads a file written by the Python safetensors library (golden fixture)', (t) => {
  const dir = process.env.SELFPATCH_GOLDEN_DIR ?? join(here, '../../../../shared/golden');
  const file = join(dir, 'schedules.safetensors');
  if (!existsSync(file)) {
    if (process.env.CI === 'true') throw new Error(`golden fixture missing: ${file}`);
    return t.skip(`no fixtures at ${dir}`);
  }
  const manifest = JSON.parse(readFileSync(join(dir, 'schedules.json'), 'utf8')) as { tensors: Record<string, { shape: number[]; dtype: string }> };
  const { tensors } = parseSafetensors(readFileSync(file), { source: file });
  for (const [name, info] of Object.entries(manifest.tensors)) {
    assert.deepEqual(tensors.get(name)?.shape, info.shape, name);
  }
});

test('.pth written by torch.save is read exactly: views, offsets, strides, dtypes, nesting, Namespace', (t) => {
  const py = requirePythonTorch();
  if (py === null) return t.skip('python3 with torch is not installed (apt-get install python3-torch)');
  const file = join(tmp, 'from_torch.pth');
  const ref = join(tmp, 'from_torch.json');
  const r = spawnSync(py.python, [join(here, 'py/pth_interop.py'), 'write', file, ref], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const ckpt = parsePth(readFileSync(file), { source: file }) as Record<string, unknown>;
  const expected = JSON.parse(readFileSync(ref, 'utf8')) as Record<string, unknown>;
  const compare = (exp: unknown, act: unknown, path: string): void => {
    if (exp && typeof exp === 'object' && '__tensor__' in exp) {
      const e = exp as { __tensor__: string; shape: number[]; values: Array<number | string> };
      const a = act as RawTensor;
      const dt = { float32: 'float32', float64: 'float64', float16: 'float16', bfloat16: 'bfloat16', int64: 'int64', int32: 'int32', uint8: 'uint8', bool: 'bool' }[e.__tensor__];
      assert.equal(a.dtype, dt, path);
      assert.deepEqual(a.shape, e.shape, path);
      assert.deepEqual(Array.from(a.data as ArrayLike<number>, (v) => (typeof v === 'bigint' ? String(v) : Number(v))), e.values.map((v) => (typeof v === 'string' ? v : Number(v))), path);
      return;
    }
    if (exp && typeof exp === 'object' && '__bigint__' in exp) {
      assert.equal(String(act), (exp as { __bigint__: string }).__bigint__, path);
      return;
    }
    if (Array.isArray(exp)) {
      assert.ok(Array.isArray(act), path);
      exp.forEach((e, i) => compare(e, (act as unknown[])[i], `${path}[${i}]`));
      return;
    }
    if (exp && typeof exp === 'object') {
      const entries = act instanceof Map ? [...act.entries()].map(([k, v]) => [String(k), v] as const) : Object.entries(act as object);
      assert.deepEqual(entries.map(([k]) => k).sort(), Object.keys(exp).sort(), path);
      for (const [k, v] of entries) compare((exp as Record<string, unknown>)[k], v, `${path}.${k}`);
      return;
    }
    assert.equal(act, exp, path);
  };
  compare(expected, ckpt, '$');
  const sd = selectStateDict(ckpt, { key: 'student', stripPrefixes: ['module.', 'backbone.'] });
  assert.deepEqual(sd['pos_embed']?.shape, [1, 5, 4]);
});

test('.pth written here is read by torch.load to identical values (weights_only=True without Python floats)', (t) => {
  const py = requirePythonTorch();
  if (py === null) return t.skip('python3 with torch is not installed (apt-get install python3-torch)');
  const rng = new Rng(3);
  const big: RawTensor = { dtype: 'float32', shape: [17, 33], data: Float32Array.from({ length: 561 }, () => rng.normal()) };
  const obj = {
    teacher: { 'backbone.blocks.0.attn.qkv.weight': big, 'backbone.pos_embed': sample.f32 as RawTensor },
    tensors: sample,
    shared: [big, big],
    epoch: 3,
    lr: new PyFloat(2),
    args: { arch: 'vit_tiny', crops: new PyTuple(0.25, 1), flag: true, none: null, big: 2n ** 70n, neg: -123456789012 },
  };
  const file = join(tmp, 'from_ts.pth');
  writeFileSync(file, serializePth(obj));
  // Expected values in the Python script's JSON format, built from the inputs (not from a read-back).
  const tj = (r: RawTensor) => ({
    __tensor__: r.dtype,
    shape: r.shape,
    values: Array.from(r.data as ArrayLike<number>, (v) => (typeof v === 'bigint' ? String(v) : Number(v))),
  });
  const expected = {
    teacher: { 'backbone.blocks.0.attn.qkv.weight': tj(big), 'backbone.pos_embed': tj(sample.f32 as RawTensor) },
    tensors: Object.fromEntries(Object.entries(sample).map(([k, v]) => [k, tj(v)])),
    shared: [tj(big), tj(big)],
    epoch: 3,
    lr: 2.0,
    args: { arch: 'vit_tiny', crops: [0.25, 1], flag: true, none: null, big: { __bigint__: String(2n ** 70n) }, neg: -123456789012 },
  };
  const ref = join(tmp, 'from_ts.json');
  writeFileSync(ref, JSON.stringify(expected));
  const r = spawnSync(py.python, [join(here, 'py/pth_interop.py'), 'read-full', file, ref], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^OK/);
  // torch 1.13's weights_only loader has no float opcode; a float-free checkpoint loads with it.
  const safeFile = join(tmp, 'from_ts_weights_only.pth');
  writeFileSync(safeFile, serializePth({ teacher: obj.teacher, tensors: obj.tensors, shared: obj.shared, epoch: 3, args: { ...obj.args, crops: new PyTuple(1, 2) } }));
  const safeRef = join(tmp, 'from_ts_weights_only.json');
  writeFileSync(safeRef, JSON.stringify({ ...expected, lr: undefined, args: { ...expected.args, crops: [1, 2] } }));
  const r2 = spawnSync(py.python, [join(here, 'py/pth_interop.py'), 'read', safeFile, safeRef], { encoding: 'utf8' });
  assert.equal(r2.status, 0, `${r2.stdout}\n${r2.stderr}`);
  // And our own reader gets the same back.
  const back = parsePth(readFileSync(file)) as { tensors: Record<string, RawTensor> };
  for (const [k, v] of Object.entries(sample)) assertSameTensor(back.tensors[k], v, k);
});

/** Applies a random corruption: truncation, byte flips, or an overwritten length field. */
function corrupt(bytes: Uint8Array, rng: Rng): Uint8Array {
  const out = bytes.slice();
  switch (rng.int(4)) {
    case 0:
      return out.subarray(0, rng.int(out.length));
    case 1:
      for (let i = 0, n = 1 + rng.int(8); i < n; i++) out[rng.int(out.length)] = rng.int(256);
      return out;
    case 2: {
      const p = rng.int(Math.max(1, out.length - 4));
      new DataView(out.buffer).setUint32(p, [0xffffffff, 0x7fffffff, 0x80000000, rng.nextU32()][rng.int(4)] as number, true);
      return out;
    }
    default: {
      const p = rng.int(out.length);
      out.fill(rng.int(256), p, Math.min(out.length, p + 1 + rng.int(64)));
      return out;
    }
  }
}

for (const [name, bytes, parse] of [
  ['safetensors', serializeSafetensors(sample), (b: Uint8Array) => parseSafetensors(b, { source: 'fuzz.safetensors' })],
  ['pth', serializePth({ teacher: sample, args: { a: [1, 2.5, 'x'] } }), (b: Uint8Array) => parsePth(b, { source: 'fuzz.pth' })],
] as const) {
  test(`fuzz: 3000 random corruptions of a ${name} file raise only CheckpointFormatError`, () => {
    const rng = new Rng(name.length);
    let rejected = 0;
    for (let i = 0; i < 3000; i++) {
      const bad = corrupt(bytes, rng);
      try {
        (parse as (b: Uint8Array) => unknown)(bad);
      } catch (err) {
        if (!(err instanceof CheckpointFormatError)) {
          throw new Error(`iteration ${i}: ${(err as Error).name}: ${(err as Error).message}`, { cause: err });
        }
        rejected++;
      }
    }
    assert.ok(rejected > 1000, `only ${rejected} corruptions were detected`);
  });
}

test('malformed files give typed errors that name the problem', () => {
  assert.throws(() => parseSafetensors(new Uint8Array(3), { source: 'a.safetensors' }), /a\.safetensors: file is 3 bytes/);
  const hdr = new TextEncoder().encode(JSON.stringify({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }));
  const file = new Uint8Array(8 + hdr.length + 8);
  new DataView(file.buffer).setBigUint64(0, BigInt(hdr.length), true);
  file.set(hdr, 8);
  assert.throws(() => parseSafetensors(file), /fall outside the 8-byte data section/);
  const bad = new TextEncoder().encode(JSON.stringify({ w: { dtype: 'Q7', shape: [1], data_offsets: [0, 4] } }));
  const f2 = new Uint8Array(8 + bad.length + 4);
  new DataView(f2.buffer).setBigUint64(0, BigInt(bad.length), true);
  f2.set(bad, 8);
  assert.throws(() => parseSafetensors(f2), /unsupported dtype "Q7"/);
  assert.throws(() => parsePth(new Uint8Array([0x80, 0x02, 0x8a])), /legacy/);
  assert.throws(() => parsePth(new Uint8Array(10)), /not a PyTorch zip checkpoint/);
});

test('a pickle that references an unsafe global is refused (never executed)', () => {
  // torch.save-style archive whose data.pkl is `os.system('echo pwned')`.
  const pkl = new Uint8Array([
    0x80, 0x02, 0x63, ...new TextEncoder().encode('os\nsystem\n'), 0x58, 10, 0, 0, 0, ...new TextEncoder().encode('echo pwned'), 0x85, 0x52, 0x2e,
  ]);
  const good = serializePth({ a: 1 });
  const { ZipReader, writeZip } = awaitZip();
  const names = new ZipReader(good).names();
  const members = names.map((n) => ({ name: n, data: n.endsWith('data.pkl') ? pkl : new ZipReader(good).read(n) }));
  assert.throws(() => parsePth(writeZip(members), { source: 'evil.pth' }), {
    name: 'DisallowedPickleGlobalError',
    message: /evil\.pth.*'os\.system'/,
  });
});

import * as zipModule from '../src/zip.js';
function awaitZip() {
  return zipModule;
}

test('hostile nesting, empty files and bare pickles give CheckpointFormatErrors that say what the file is', () => {
  // 100,000 nested lists once overflowed the call stack (RangeError) instead of a typed error.
  assert.throws(() => parsePth(deeplyNestedPth(100_000), { source: 'deep.pth' }), (e: unknown) => e instanceof CheckpointFormatError && /deep\.pth.*nests containers more than 1000 deep/.test(e.message));
  // Just inside the bound still parses (the bound is not a blanket refusal of nesting).
  assert.equal(Array.isArray(parsePth(deeplyNestedPth(900), { source: 'ok.pth' })), true);
  assert.throws(() => parseCheckpoint(new Uint8Array(0), 'empty.pth'), /empty\.pth: empty file \(0 bytes\)/);
  assert.throws(() => parseCheckpoint(new Uint8Array(0), 'empty.safetensors'), /empty file/);
  // A torch.save(..., _use_new_zipfile_serialization=False)-less raw pickle.dump at protocol 4.
  const rawPickle = new Uint8Array([0x80, 0x04, 0x95, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x7d, 0x94, 0x2e]);
  assert.throws(() => parseCheckpoint(rawPickle, 'raw.pkl'), (e: unknown) => e instanceof CheckpointFormatError && /bare pickle \(protocol 4\)/.test(e.message) && !/header length/.test(e.message));
  // A damaged .pth is reported as a PyTorch file, not as a bad safetensors header.
  assert.throws(() => parseCheckpoint(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), 'weights.pth'), /not a PyTorch zip checkpoint/);
});

test('flat safetensors training checkpoints (teacher.backbone.*, model.encoder_k.*) select like .pth entries', () => {
  const t = (v: number): RawTensor => ({ dtype: 'float32', shape: [1], data: Float32Array.from([v]) });
  const flat = { 'student.backbone.w': t(1), 'teacher.backbone.w': t(2), 'teacher.head.v': t(3), 'optimizer.x.exp_avg': t(4) };
  assert.deepEqual(Object.keys(selectStateDict(flat)), ['backbone.w', 'head.v'], 'teacher by default');
  assert.equal((selectStateDict(flat)['backbone.w'] as RawTensor).data[0], 2);
  assert.equal((selectStateDict(flat, { key: 'student' })['backbone.w'] as RawTensor).data[0], 1);
  assert.equal((selectStateDict(flat, { key: 'optimizer' })['x.exp_avg'] as RawTensor).data[0], 4);
  const moby = { 'model.encoder.a': t(5), 'model.encoder_k.a': t(6) };
  assert.deepEqual(Object.keys(selectStateDict(moby)), ['encoder.a', 'encoder_k.a']);
  // A bare state dict is untouched, whatever its keys look like.
  const bare = { 'blocks.0.w': t(7), pos_embed: t(8) };
  assert.deepEqual(Object.keys(selectStateDict(bare)), ['blocks.0.w', 'pos_embed']);
  assert.throws(() => selectStateDict(flat, { key: 'ema' }), /no entry 'ema'/);
});
