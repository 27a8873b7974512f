import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// A consumer without `sharp` (it is an optional peer): a resolve hook makes it unresolvable, as
// in a project that never installed it. Importing the package works; decoding names the missing peer.
const hooks = `export async function resolve(spec, ctx, next) {
  if (spec === 'sharp') { const e = new Error("Cannot find package 'sharp'"); e.code = 'ERR_MODULE_NOT_FOUND'; throw e; }
  return next(spec, ctx);
}`;
const register = `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}));`;

test('without sharp installed, @selfpatch/data imports and decodeImage raises MissingDependencyError naming sharp', () => {
  const entry = fileURLToPath(new URL('../src/index.ts', import.meta.url));
  const script = `const d = await import(${JSON.stringify(entry)});
try { await d.decodeImage(new Uint8Array([0xff, 0xd8, 0xff]), { source: 'x.jpg' }); console.log('decoded'); }
catch (e) { console.log(JSON.stringify({ name: e.name, dependency: e.dependency, isMissing: e instanceof d.MissingDependencyError, message: e.message })); }`;
  const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as { name: string; dependency: string; isMissing: boolean; message: string };
  assert.equal(out.name, 'MissingDependencyError');
  assert.equal(out.dependency, 'sharp');
  assert.ok(out.isMissing);
  assert.match(out.message, /npm install sharp/);
});

test('with sharp installed the same call decodes (or fails as a decode error, not a missing dependency)', async () => {
  const { decodeImage } = await import('../src/index.js');
  await assert.rejects(decodeImage(new Uint8Array([0xff, 0xd8, 0xff]), { source: 'x.jpg' }), { name: 'ImageDecodeError' });
});
