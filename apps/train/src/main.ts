#!/usr/bin/env node
/** Process entry of `selfpatch-train` (the bin and `npm run train`). */
import { main } from './cli.js';

await main();
