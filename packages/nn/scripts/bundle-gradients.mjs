// Builds generated/tfjs-gradients.cjs: tfjs-core's gradient registrations bundled for Node.
// Why: under Node, `@tensorflow/tfjs-core` resolves to its CJS build, which registers no gradients,
// and its ESM `register_all_gradients` cannot be loaded by Node (extensionless imports).
// See docs/tfjs-backends.md §1.4. The engine and gradient registry are process globals, so the
// registrations made by this bundle's copy of the core are seen by the real one.
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const corePkg = require.resolve('@tensorflow/tfjs-core/package.json');
const entry = join(dirname(corePkg), 'dist', 'register_all_gradients.js');

await build({
  entryPoints: [entry],
  bundle: true,
  minify: true,
  platform: 'node',
  format: 'cjs',
  outfile: join(here, '..', 'generated', 'tfjs-gradients.cjs'),
  logLevel: 'warning',
  legalComments: 'none',
});
