/**
 * `@selfpatch/nn/base`: the seeded RNG and the error classes, without tfjs. For code that runs
 * where no tensor library should load (data-loader workers, decoders, config validation).
 */
export { Rng, type RngState } from './rng.js';
export * from './errors.js';
