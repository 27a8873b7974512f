import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

// Each loader worker starts a fresh module graph: it must load only decoding and the augmentation
// code (Rng and errors from @selfpatch/nn/base), not tfjs, a backend, wasm or gradient registrations.
test('the data-loader worker imports no tfjs and no wasm', async () => {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('../src/loader-worker.ts', import.meta.url))],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    conditions: ['source'],
    packages: 'bundle',
    external: ['sharp'],
    logLevel: 'silent',
    metafile: true,
  });
  const inputs = Object.keys(result.metafile.inputs);
  assert.ok(inputs.some((f) => f.endsWith('src/loader-worker.ts')));
  const heavy = inputs.filter((f) => /tfjs-|simd-kernels|\.wasm|register-gradients/.test(f));
  assert.deepEqual(heavy, [], 'no tfjs, wasm or gradient registration in the worker');
});
