export * from './golden.js';
export * from './backends.js';
export * from './vit.js';
export * from './python.js';
export * from './ssl.js';
export * from './hash-weights.js';
export * from './backend-tolerance.js';
