#!/usr/bin/env node
// Published package: the compiled entry. In the repo, `npm run infer` runs the TypeScript sources.
await import('../dist/main.js');
