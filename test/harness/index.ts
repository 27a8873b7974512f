export * from './golden.js';
export * from './backends.js';
