#!/usr/bin/env node
/** Process entry of `selfpatch-eval` (the bin and `npm run eval`). */
import { main } from './cli.js';

await main();
