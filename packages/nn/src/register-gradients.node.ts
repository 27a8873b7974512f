/**
 * Registers tfjs-core's gradient functions under Node (docs/tfjs-backends.md §1.4).
 *
 * The CJS build that Node resolves for `@tensorflow/tfjs-core` registers no gradients, so
 * `tf.variableGrads` fails with "gradient function not found". The package build bundles
 * `register_all_gradients` into `generated/tfjs-gradients.cjs`; requiring it fills the global
 * gradient registry that every copy of the core shares.
 */
import { createRequire } from 'node:module';
// The real core must create the global engine before the bundle's private copy of the core can:
// an engine made by the bundle would build tensors of its op-less Tensor class (`x.clone()` then
// fails with "Cannot read properties of null") whenever this package is imported before
// `@tensorflow/tfjs-core`. ES modules evaluate imports in order, so this line runs the core first.
import '@tensorflow/tfjs-core';

const require = createRequire(import.meta.url);
try {
  require('../generated/tfjs-gradients.cjs');
} catch (err) {
  throw new Error(
    '@selfpatch/nn: generated/tfjs-gradients.cjs is missing; run `npm run build` in packages/nn ' +
      `(it bundles tfjs-core's gradients for Node). Cause: ${(err as Error).message}`,
    { cause: err },
  );
}
