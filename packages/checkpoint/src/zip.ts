/**
 * Minimal ZIP reader/writer for PyTorch's checkpoint container (`torch.save` since 1.6).
 *
 * Hand-written because checkpoints can be large: stored (uncompressed) members are returned as
 * zero-copy views of the file buffer, which general-purpose zip libraries do not offer; the rare
 * deflated member is inflated with `fflate` into a buffer of the size the directory declares.
 * Every offset and size is validated against the file before use (ZIP64 included).
 */
import { inflateSync } from 'fflate';
import { CheckpointFormatError } from './errors.js';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const EOCD64_LOCATOR_SIG = 0x07064b50;
const EOCD64_SIG = 0x06064b50;
const CDH_SIG = 0x02014b50;
const LFH_SIG = 0x04034b50;

/** Random-access view of a zip archive held in memory. */
export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly source = '<zip>',
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.readDirectory();
  }

  private fail(msg: string): never {
    throw new CheckpointFormatError(this.source, msg);
  }

  private u16(off: number): number {
    if (off < 0 || off + 2 > this.bytes.length) this.fail(`zip structure points outside the file (offset ${off})`);
    return this.view.getUint16(off, true);
  }

  private u32(off: number): number {
    if (off < 0 || off + 4 > this.bytes.length) this.fail(`zip structure points outside the file (offset ${off})`);
    return this.view.getUint32(off, true);
  }

  private u64(off: number): number {
    if (off < 0 || off + 8 > this.bytes.length) this.fail(`zip structure points outside the file (offset ${off})`);
    const v = this.view.getBigUint64(off, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail('zip64 value too large');
    return Number(v);
  }

  private findEocd(): number {
    const min = Math.max(0, this.bytes.length - 22 - 0xffff);
    for (let i = this.bytes.length - 22; i >= min; i--) {
      if (this.view.getUint32(i, true) === EOCD_SIG) return i;
    }
    return this.fail('not a zip archive (no end-of-central-directory record): truncated file or legacy format');
  }

  private readDirectory(): void {
    if (this.bytes.length < 22) this.fail(`file is ${this.bytes.length} bytes, too short for a zip archive`);
    const eocd = this.findEocd();
    let count = this.u16(eocd + 10);
    let cdSize = this.u32(eocd + 12);
    let cdOffset = this.u32(eocd + 16);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || this.u32(loc) !== EOCD64_LOCATOR_SIG) this.fail('zip64 archive without a zip64 locator');
      const rec = this.u64(loc + 8);
      if (this.u32(rec) !== EOCD64_SIG) this.fail('bad zip64 end-of-central-directory record');
      count = this.u64(rec + 32);
      cdSize = this.u64(rec + 40);
      cdOffset = this.u64(rec + 48);
    }
    if (cdOffset + cdSize > this.bytes.length) this.fail('central directory extends past the end of the file (truncated?)');
    if (count > cdSize / 46 + 1) this.fail(`central directory claims ${count} entries in ${cdSize} bytes`);
    let p = cdOffset;
    for (let i = 0; i < count; i++) {
      if (this.u32(p) !== CDH_SIG) this.fail(`bad central directory entry ${i}`);
      const method = this.u16(p + 10);
      const crc32 = this.u32(p + 16);
      let compressedSize = this.u32(p + 20);
      let size = this.u32(p + 24);
      const nameLen = this.u16(p + 28);
      const extraLen = this.u16(p + 30);
      const commentLen = this.u16(p + 32);
      let localHeaderOffset = this.u32(p + 42);
      const nameEnd = p + 46 + nameLen;
      if (nameEnd + extraLen + commentLen > cdOffset + cdSize) this.fail(`central directory entry ${i} overruns the directory`);
      const name = new TextDecoder().decode(this.bytes.subarray(p + 46, nameEnd));
      // ZIP64 extended information: present fields follow in a fixed order.
      let q = nameEnd;
      while (q + 4 <= nameEnd + extraLen) {
        const id = this.u16(q);
        const len = this.u16(q + 2);
        if (id === 0x0001) {
          let r = q + 4;
          if (size === 0xffffffff) {
            size = this.u64(r);
            r += 8;
          }
          if (compressedSize === 0xffffffff) {
            compressedSize = this.u64(r);
            r += 8;
          }
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = this.u64(r);
        }
        q += 4 + len;
      }
      this.entries.set(name, { name, method, compressedSize, size, crc32, localHeaderOffset });
      p = nameEnd + extraLen + commentLen;
    }
  }

  /** Names of all members. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  /** Bytes of a member (a view for stored members, a fresh buffer for deflated ones). */
  read(name: string): Uint8Array {
    const e = this.entries.get(name);
    if (e === undefined) this.fail(`missing archive member '${name}'`);
    const entry = e as ZipEntry;
    const lh = entry.localHeaderOffset;
    if (this.u32(lh) !== LFH_SIG) this.fail(`bad local header for '${name}'`);
    const start = lh + 30 + this.u16(lh + 26) + this.u16(lh + 28);
    const end = start + entry.compressedSize;
    if (end > this.bytes.length) this.fail(`member '${name}' extends past the end of the file (truncated?)`);
    const raw = this.bytes.subarray(start, end);
    if (entry.method === 0) {
      if (entry.size !== entry.compressedSize) this.fail(`stored member '${name}' has inconsistent sizes`);
      return raw;
    }
    if (entry.method === 8) {
      // Bound the output by the declared size (deflate can expand ~1032x; never trust more).
      if (entry.size > entry.compressedSize * 1032 + 1024) this.fail(`member '${name}' declares an implausible size`);
      const out = new Uint8Array(entry.size);
      try {
        const res = inflateSync(raw, { out });
        if (res.length !== entry.size) this.fail(`member '${name}' inflates to ${res.length} bytes, expected ${entry.size}`);
        return res;
      } catch (err) {
        if (err instanceof CheckpointFormatError) throw err;
        return this.fail(`member '${name}' is corrupt (${(err as Error).message})`);
      }
    }
    return this.fail(`member '${name}' uses unsupported compression method ${entry.method}`);
  }
}

// --- writer ---------------------------------------------------------------------------------

let crcTable: Uint32Array | null = null;

export function crc32(data: Uint8Array): number {
  if (crcTable === null) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = (crcTable[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Writes a stored (uncompressed) zip with each member's data aligned to `align` bytes through a
 * padding extra field, like PyTorch's `PyTorchStreamWriter` (so mmap-style readers work).
 */
export function writeZip(members: Array<{ name: string; data: Uint8Array }>, align = 64): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const m of members) {
    const name = enc.encode(m.name);
    const crc = crc32(m.data);
    const base = offset + 30 + name.length;
    let extraLen = 0;
    if (align > 1 && base % align !== 0) {
      extraLen = align - (base % align);
      if (extraLen < 4) extraLen += align;
    }
    if (offset > 0xfffffffe || m.data.length > 0xfffffffe) {
      throw new CheckpointFormatError('<zip>', 'archive larger than 4 GB is not supported by the writer');
    }
    const lh = new Uint8Array(30 + name.length + extraLen);
    const lv = new DataView(lh.buffer);
    lv.setUint32(0, LFH_SIG, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, 0, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, m.data.length, true);
    lv.setUint32(22, m.data.length, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, extraLen, true);
    lh.set(name, 30);
    if (extraLen > 0) {
      lv.setUint16(30 + name.length, 0x4246, true); // 'FB' padding field, as PyTorch writes
      lv.setUint16(32 + name.length, extraLen - 4, true);
    }
    const ch = new Uint8Array(46 + name.length);
    const cv = new DataView(ch.buffer);
    cv.setUint32(0, CDH_SIG, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, m.data.length, true);
    cv.setUint32(24, m.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    ch.set(name, 46);
    parts.push(lh, m.data);
    central.push(ch);
    offset += lh.length + m.data.length;
  }
  const cdSize = central.reduce((n, c) => n + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, EOCD_SIG, true);
  ev.setUint16(8, members.length, true);
  ev.setUint16(10, members.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  const out = new Uint8Array(offset + cdSize + 22);
  let p = 0;
  for (const part of [...parts, ...central, eocd]) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}
