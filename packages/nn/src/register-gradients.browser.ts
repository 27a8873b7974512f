/**
 * Registers tfjs-core's gradient functions in bundled (browser) builds, where the ESM entry of
 * `@tensorflow/tfjs-core` and its side-effect module resolve normally.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
