/**
 * Registers tfjs-core's gradient functions in bundled (browser) builds, where the ESM entry of
 * `@tensorflow/tfjs-core` and its side-effect module resolve normally.
 */
// The core's entry first: it registers the environment flags (DEBUG, …) that gradient and op
// modules read; evaluated after them, a bundle fails with "Cannot evaluate flag 'DEBUG'".
import '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
