export { findPythonTorch, requirePythonTorch, type PythonTorch } from '@selfpatch/nn/testing';
