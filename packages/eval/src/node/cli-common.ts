/**
 * Command-line plumbing shared by `selfpatch-eval` and `selfpatch-infer`: the checkpoint options,
 * backend start-up with its reason printed, integer option parsing, and the top-level runner that
 * turns typed errors into one line and exit code 2.
 */
import type { Command } from 'commander';
import { ConfigError, SelfPatchError } from '@selfpatch/nn';
import { describeBackend, initBackend } from '@selfpatch/nn/runtime';
import type { DenseBackbone } from '../backbone.js';
import { loadBackboneFile } from './backbone-file.js';

export interface CheckpointCliOptions {
  checkpoint: string;
  which?: string;
  numHeads?: number;
  backend: string;
  /** Defaults to 1. */
  threads?: number;
}

/** A commander parser for integers ≥ `min`, failing with a ConfigError naming the option. */
export function intOption(name: string, min = 0): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new ConfigError(name, `expected an integer >= ${min}, got '${v}'`);
    return n;
  };
}

/** Adds `--checkpoint`, `--which`, `--num-heads`, `--backend` and `--threads` to a command. */
export function checkpointOptions(c: Command, defaultBackend = 'auto'): Command {
  return c
    .requiredOption('--checkpoint <file>', 'backbone checkpoint (.pth or safetensors; ViT or Swin; training checkpoints use --which)')
    .option('--which <key>', 'entry of a training checkpoint (default: teacher when present)')
    .option('--num-heads <n>', 'ViT heads when the width matches no preset', intOption('--num-heads', 1))
    .option('--backend <name>', 'auto | tensorflow | wasm | cpu', defaultBackend)
    .option('--threads <n>', 'XNNPACK threads on wasm (opt-in; slower when the other cores are busy)', intOption('--threads', 1), 1);
}

/** Starts the backend and loads the checkpoint, saying which and why on stderr. */
export async function openCheckpoint(o: CheckpointCliOptions): Promise<DenseBackbone> {
  const b = await initBackend(o.backend, { threads: o.threads ?? 1 });
  console.error(`backend: ${describeBackend(b)}`);
  const net = loadBackboneFile(o.checkpoint, { which: o.which, numHeads: o.numHeads });
  console.error(`model: ${net.description} from ${o.checkpoint}`);
  return net;
}

/** Parses and runs; a SelfPatchError is one line on stderr and exit code 2, not a stack trace. */
export async function runCli(program: Command, argv: string[] = process.argv): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (!(err instanceof SelfPatchError)) throw err;
    console.error(`\nerror: ${err.message}`);
    process.exitCode = 2;
  }
  // Worker threads and the wasm runtime must not keep a finished command alive.
  process.exit(process.exitCode ?? 0);
}
