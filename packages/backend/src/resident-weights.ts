/**
 * Inference weights kept in the SIMD kernel module's memory between calls (csrc/linear.c's packed
 * layout), so an eval-mode Linear copies its weight in once, not on every call: for ViT-S/16 that
 * is 87 MB a forward pass, about 2.5% of its time on wasm. Keyed by the weight's tfjs `dataId`:
 * tfjs data never changes under a dataId (a Variable's `assign` gives it a new one), so an entry
 * stays right for as long as it exists.
 *
 * Layout: the arena sits at the start of the module's buffer area and each call's buffers follow
 * it. Entries are appended up to a budget; when one does not fit, the entries whose data tfjs has
 * disposed are dropped and the rest moved down. If it still does not fit, that weight goes through
 * the call area as before (slower, never wrong). Written by hand: the arena lives in one
 * WebAssembly.Memory shared with the kernels (and, in Node, with their worker threads).
 */

/** The stack (64 KB) comes first (--stack-first); buffers start at 128 KB. */
export const BUFFERS_START = 1 << 17;
/** Most bytes of weights kept: covers ViT-S (87 MB) and Swin-T (112 MB) with room to spare. */
export const RESIDENT_BUDGET_BYTES = 256 * 2 ** 20;

interface Entry {
  key: object;
  at: number;
  bytes: number;
}

let arena: { memory: WebAssembly.Memory; entries: Entry[]; end: number } | null = null;

function arenaFor(memory: WebAssembly.Memory): { memory: WebAssembly.Memory; entries: Entry[]; end: number } {
  // A new memory (the kernels moved to the shared build) starts an empty arena.
  if (arena?.memory !== memory) arena = { memory, entries: [], end: BUFFERS_START };
  return arena;
}

/** Where a call's buffers may start in `memory`: after the kept weights. */
export function callAreaStart(memory: WebAssembly.Memory): number {
  return arena?.memory === memory ? arena.end : BUFFERS_START;
}

/** Drops the entries `alive` rejects and moves the rest down, in order. */
function compact(a: { memory: WebAssembly.Memory; entries: Entry[]; end: number }, alive: (key: object) => boolean): void {
  const bytes = new Uint8Array(a.memory.buffer);
  let end = BUFFERS_START;
  const kept: Entry[] = [];
  for (const e of a.entries) {
    if (!alive(e.key)) continue;
    if (e.at !== end) bytes.copyWithin(end, e.at, e.at + e.bytes);
    kept.push({ key: e.key, at: end, bytes: e.bytes });
    end += e.bytes;
  }
  a.entries = kept;
  a.end = end;
}

/**
 * The byte address of `key`'s kept weight (`floats` float32 values) in `memory`, written by
 * `fill` on first use; null when `budget` bytes are spent by live weights.
 */
export function residentWeight(
  memory: WebAssembly.Memory,
  key: object,
  floats: number,
  alive: (key: object) => boolean,
  fill: (dst: Float32Array) => void,
  budget = RESIDENT_BUDGET_BYTES,
): number | null {
  const a = arenaFor(memory);
  const hit = a.entries.find((e) => e.key === key);
  if (hit) return hit.at;
  // 64-byte aligned, as the call buffers that follow.
  const bytes = Math.ceil((floats * 4) / 64) * 64;
  const used = a.end - BUFFERS_START;
  if (used + bytes > budget) {
    compact(a, alive);
    if (a.end - BUFFERS_START + bytes > budget) return null;
  }
  const at = a.end;
  if (at + bytes > memory.buffer.byteLength) memory.grow(Math.ceil((at + bytes - memory.buffer.byteLength) / 65536));
  fill(new Float32Array(memory.buffer, at, floats));
  a.entries.push({ key, at, bytes });
  a.end = at + bytes;
  return at;
}

/** Bytes of weights kept now (for tests and diagnostics). */
export function residentBytes(): number {
  return arena ? arena.end - BUFFERS_START : 0;
}
