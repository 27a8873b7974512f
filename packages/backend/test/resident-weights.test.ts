import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUFFERS_START, callAreaStart, residentWeight } from '../src/resident-weights.js';

test('kept weights: one fill per key, dead entries dropped and the rest moved down intact, null when live ones fill the budget', () => {
  const memory = new WebAssembly.Memory({ initial: 2 });
  const floats = 256; // 1 KB each
  const budget = 3 * 1024;
  const dead = new Set<object>();
  const alive = (key: object): boolean => !dead.has(key);
  const fills: string[] = [];
  const keys = { a: {}, b: {}, c: {}, d: {}, e: {} };
  const put = (name: keyof typeof keys): number | null =>
    residentWeight(memory, keys[name], floats, alive, (dst) => (fills.push(name), dst.fill(name.charCodeAt(0))), budget);
  const read = (at: number): number[] => Array.from(new Float32Array(memory.buffer, at, floats));

  const a = put('a');
  const b = put('b');
  assert.equal(a, BUFFERS_START);
  assert.equal(b, BUFFERS_START + 1024);
  assert.equal(put('a'), a, 'a hit returns the kept copy');
  assert.deepEqual(fills, ['a', 'b']);
  assert.ok(memory.buffer.byteLength >= BUFFERS_START + 2048, 'memory grown to hold them');
  assert.equal(callAreaStart(memory), BUFFERS_START + 2048, 'call buffers start after the kept weights');

  assert.notEqual(put('c'), null);
  dead.add(keys.a);
  // Over budget: a (dead) is dropped, b and c move down with their contents.
  const d = put('d');
  assert.equal(d, BUFFERS_START + 2048);
  const b2 = put('b') as number;
  assert.equal(b2, BUFFERS_START);
  assert.ok(read(b2).every((v) => v === 'b'.charCodeAt(0)), 'b moved intact');
  assert.ok(read(put('c') as number).every((v) => v === 'c'.charCodeAt(0)), 'c moved intact');
  assert.deepEqual(fills, ['a', 'b', 'c', 'd'], 'no refill for moved entries');
  // All live and the budget spent: the caller is told to use its call area.
  assert.equal(put('e'), null);
  assert.equal(callAreaStart(new WebAssembly.Memory({ initial: 1 })), BUFFERS_START, 'another memory has no kept weights');
});
