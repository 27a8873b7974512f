/** Backends for parity tests: the shared test helpers of `@selfpatch/nn/testing`. */
export { BACKENDS as TEST_BACKENDS, use as useBackend } from '@selfpatch/nn/testing';
