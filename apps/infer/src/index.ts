/** @selfpatch/infer — the Node inference CLI as a library (the browser app lives in `web/`). */
export { buildProgram, main, extractFeatures } from './cli.js';
export { serveWebApp, defaultWebRoot, ISOLATION_HEADERS, type WebServerOptions } from './web-server.js';
