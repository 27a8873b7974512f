import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENTRY_POINTS, positional } from '../src/simd-entry-points.js';

const csrc = join(import.meta.dirname, '..', 'csrc');

/** Every `export_name("x"))) void x(<params>)` in csrc/*.c: name → parameter names in order. */
function declaredEntryPoints(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const file of readdirSync(csrc).filter((f) => f.endsWith('.c'))) {
    const src = readFileSync(join(csrc, file), 'utf8');
    for (const m of src.matchAll(/export_name\("(\w+)"\)\)\)\s*void\s+\w+\s*\(([^)]*)\)/g)) {
      const params = (m[2] as string).split(',').map((p) => (p.trim().split(/[\s*]+/).at(-1) as string));
      out.set(m[1] as string, params);
    }
  }
  return out;
}

test('the typed entry-point table names every exported C function with its parameters in declaration order', () => {
  const declared = declaredEntryPoints();
  assert.ok(declared.size >= 10, `found only ${declared.size} exported functions in ${csrc}`);
  assert.deepEqual(Object.fromEntries(Object.entries(ENTRY_POINTS).map(([k, v]) => [k, [...v]])), Object.fromEntries(declared));
});

test('positional puts named arguments in C order and names the field at fault', () => {
  assert.deepEqual(positional('ema_step', { t: 16, s: 32, out: 48, n: 4, m: 0.9, one_minus_m: 0.1 }), [16, 32, 48, 4, 0.9, 0.1]);
  assert.throws(() => positional('ema_step', { t: 16, s: Number.NaN, out: 48, n: 4, m: 0.9, one_minus_m: 0.1 }), (e: unknown) => e instanceof Error && /ema_step\.s/.test(e.message));
  assert.throws(() => positional('gelu_fwd', { x: 0, y: 64 } as never), (e: unknown) => e instanceof Error && /gelu_fwd\.n/.test(e.message));
});

test('the kernel wrappers check buffer lengths against the shapes they are given', async () => {
  const { layerNormSimd, attentionSimd, geluSimd } = await import('../src/simd-kernels.js');
  const f = (n: number) => new Float32Array(n);
  assert.throws(() => layerNormSimd(f(12), f(4), f(4), f(12), 3, 5, 1e-6), { name: 'ShapeError', message: /layer norm: x holds 12 floats, expected 15/ });
  assert.throws(() => geluSimd(f(8), f(9)), { name: 'ShapeError' });
  const dims = { slices: 2, nq: 3, nk: 4, d: 5, e: 6, scale: 1, groups: 0 };
  assert.throws(() => attentionSimd(f(30), f(40), f(47), f(0), f(36), null, dims), { name: 'ShapeError', message: /attention: v holds 47 floats, expected 48/ });
  // Right lengths run.
  const y = f(15);
  layerNormSimd(Float32Array.from({ length: 15 }, (_, i) => i), Float32Array.from([1, 1, 1, 1, 1]), f(5), y, 3, 5, 1e-6);
  assert.ok(Math.abs((y[0] as number) + Math.SQRT2) < 1e-5, `first normalised value ${y[0]}`);
});
