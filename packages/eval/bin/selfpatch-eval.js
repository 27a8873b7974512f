#!/usr/bin/env node
// Published package: the compiled entry. In the repo, `npm run eval` runs the TypeScript sources.
await import('../dist/node/main.js');
