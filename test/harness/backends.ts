/** Backends for parity tests: the backends an app runs on, from `@selfpatch/backend/testing`. */
export { BACKENDS as TEST_BACKENDS, use as useBackend } from '@selfpatch/backend/testing';
