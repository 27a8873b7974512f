#!/usr/bin/env node
/** Process entry of `selfpatch-infer`. */
import { main } from './cli.js';

await main();
