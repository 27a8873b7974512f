/**
 * Checkpoint IO, independent of any tfjs backend: safetensors and PyTorch `.pth` (read and write),
 * raw tensors and their conversion to tfjs.
 */
export * from './raw-tensor.js';
export * from './safetensors.js';
export { parsePth, serializePth, PyFloat, PyTuple, type PthReadOptions, type PthWriteOptions } from './pth.js';
export { PyObject } from './pickle.js';
export { ZipReader, writeZip, crc32 } from './zip.js';
export * from './checkpoint-files.js';
