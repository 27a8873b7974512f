/**
 * @selfpatch/checkpoint — checkpoint files without tfjs: safetensors and PyTorch `.pth` (read and
 * write; `.pth` through a restricted unpickler that builds only tensors, containers and
 * allow-listed types and executes nothing), the zip container, and raw tensors (typed arrays with
 * dtype and shape). `@selfpatch/nn` converts raw tensors to tfjs (`rawToTensor`).
 */
export * from './errors.js';
export { WriteError } from './write-error.js';
export * from './raw-tensor.js';
export * from './safetensors.js';
export { parsePth, serializePth, PyFloat, PyTuple, type PthReadOptions, type PthWriteOptions } from './pth.js';
export { PyObject } from './pickle.js';
export { ZipReader, writeZip, crc32 } from './zip.js';
export * from './checkpoint-files.js';
