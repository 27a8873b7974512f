/**
 * Browser entry of @selfpatch/data: the same image type, ops and recipes; decoding through the
 * browser's own decoder. (Datasets and the worker-thread loader read the file system: Node only.)
 */
export * from './common.js';
export { decodeImage } from './decode.browser.js';
