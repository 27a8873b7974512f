import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

// The browser entry must bundle for a page with no Node built-ins reachable: a browser bundler
// resolving `@selfpatch/backend` (with the backends it imports) fails on any `node:*` module.
test('the browser entry bundles for browsers with no node:* module', async () => {
  const result = await build({
    stdin: { contents: "import { initBackend } from '@selfpatch/backend'; console.log(typeof initBackend);", resolveDir: fileURLToPath(new URL('.', import.meta.url)), loader: 'ts' },
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    conditions: ['source', 'browser'],
    logLevel: 'silent',
    metafile: true,
  });
  const inputs = Object.keys(result.metafile.inputs);
  assert.ok(inputs.some((f) => f.endsWith('src/index.browser.ts')), 'the browser entry was used');
  assert.ok(inputs.some((f) => f.includes('tfjs-backend-wasm')), 'the wasm backend is bundled');
  const nodeOnly = inputs.filter((f) => /-node\.ts$|node-fs|node:/.test(f));
  assert.deepEqual(nodeOnly, [], 'no Node-only module in the bundle');
});
