/** @selfpatch/infer — the Node inference CLI as a library (the browser app lives in `web/`). */
export { buildProgram, main, extractFeatures } from './cli.js';
