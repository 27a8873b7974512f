/**
 * Command-line plumbing shared by `selfpatch-eval` and `selfpatch-infer`: the checkpoint options,
 * backend start-up with its reason printed, integer option parsing, and the top-level runner.
 */
import { Option, type Command } from 'commander';
import { ConfigError } from '@selfpatch/nn';
import { runCliMain } from '@selfpatch/checkpoint/node';
import { describeBackend, initBackend, SIMD_KERNEL_BUILD_CHOICES } from '@selfpatch/backend';
import type { DenseBackbone, ImageFeatureKind } from '../backbone.js';
import { loadBackboneFile } from './backbone-file.js';

export interface CheckpointCliOptions {
  checkpoint: string;
  which?: string;
  numHeads?: number;
  backend: string;
  /** Defaults to 1. */
  threads?: number;
  /** wasm: the SIMD kernels' build (`auto` unless given). */
  simd?: string;
  /** Image-level feature for k-NN (`auto` unless given). */
  imageFeature?: ImageFeatureKind;
}

/**
 * A commander parser for integers in `[min, max]`, failing with a ConfigError naming the option.
 * Sizes get a `max` so an absurd value is refused up front, not deep inside tfjs as an
 * allocation failure.
 */
export function intOption(name: string, min = 0, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(name, `expected an integer from ${min} to ${max}, got '${v}'`);
    return n;
  };
}

/** Largest image side the CLIs accept at all (a 4096² RGB float image is already 200 MB). */
export const MAX_IMAGE_SIDE = 4096;

/** One head's attention scores for one image must fit well inside the 4 GB wasm heap. */
const MAX_SCORE_BYTES = 1 << 30;

/**
 * Refuses an input side at which a ViT's token-to-token attention scores (tokens² floats per
 * head) cannot be allocated, naming the flag and the largest side that works for this model.
 * `longSide` is the largest side the input will have.
 */
export function checkInputSide(net: DenseBackbone, longSide: number, flag: string, shownValue: number = longSide): void {
  if (net.kind !== 'vit') return;
  const tokens = (side: number) => Math.ceil(side / net.stride) ** 2;
  if (tokens(longSide) ** 2 * 4 <= MAX_SCORE_BYTES) return;
  // Largest square patch grid whose tokens² float32 scores fit.
  const ok = Math.floor(Math.sqrt(Math.sqrt(MAX_SCORE_BYTES / 4))) * net.stride;
  const scale = shownValue / longSide;
  throw new ConfigError(flag, `${shownValue} is too large for this ViT (patch ${net.stride}): its attention would need ${((tokens(longSide) ** 2 * 4) / 2 ** 30).toFixed(1)} GB per head; use at most ${Math.floor(ok * scale)}`);
}

/** Adds `--checkpoint`, `--which`, `--num-heads`, `--backend`, `--threads` and `--simd` to a command. */
export function checkpointOptions(c: Command, defaultBackend = 'auto'): Command {
  return c
    .requiredOption('--checkpoint <file>', 'backbone checkpoint (.pth or safetensors; ViT or Swin; training checkpoints use --which)')
    .option('--which <key>', 'entry of a training checkpoint (default: teacher when present)')
    .option('--num-heads <n>', 'ViT heads when the width matches no preset', intOption('--num-heads', 1))
    .option('--backend <name>', 'auto | tensorflow | webgpu | wasm | cpu', defaultBackend)
    .option('--threads <n>', 'XNNPACK threads on wasm (opt-in; slower when the other cores are busy)', intOption('--threads', 1), 1)
    .addOption(
      new Option('--simd <build>', "wasm kernels' build: relaxed-simd (fused multiply-add; auto picks it where the runtime has it) or simd (same bits on every CPU)")
        .choices(SIMD_KERNEL_BUILD_CHOICES)
        .default('auto'),
    );
}

/** An input-size flag to check against the loaded model (`longSide`: the largest side it implies). */
export interface InputSizeCheck {
  flag: string;
  value: number;
  longSide?: number;
}

/**
 * Starts the backend and loads the checkpoint, saying which and why on stderr; with `size`, refuses
 * an input side the model cannot run at before any work.
 */
export async function openCheckpoint(o: CheckpointCliOptions, size?: InputSizeCheck): Promise<DenseBackbone> {
  const b = await initBackend(o.backend, { threads: o.threads ?? 1, ...(o.simd ? { simd: o.simd } : {}) }).catch((err: unknown) => {
    // The library names its option; on the command line it is a flag.
    if (err instanceof ConfigError && err.option === 'simd') throw new ConfigError('--simd', err.message.replace(/^invalid option 'simd': /, ''));
    throw err;
  });
  console.error(`backend: ${describeBackend(b)}`);
  let net: DenseBackbone;
  try {
    net = loadBackboneFile(o.checkpoint, { which: o.which, numHeads: o.numHeads, ...(o.imageFeature ? { imageFeature: o.imageFeature } : {}) });
  } catch (err) {
    // The library names its option; on the command line it is a flag.
    if (err instanceof ConfigError && err.option === 'numHeads') throw new ConfigError('--num-heads', err.message.replace(/^invalid option 'numHeads': /, ''));
    throw err;
  }
  console.error(`model: ${net.description} from ${o.checkpoint}`);
  if (size) {
    try {
      checkInputSide(net, size.longSide ?? size.value, size.flag, size.value);
    } catch (err) {
      net.dispose();
      throw err;
    }
  }
  return net;
}

/**
 * Parses and runs with the shared CLI error policy: one line per failure, a stable exit code per
 * failure class (2 invalid input, 4 failed write, 1 unexpected), the stack only with --verbose or
 * DEBUG.
 */
export async function runCli(program: Command, argv: string[] = process.argv): Promise<void> {
  program.addHelpText('after', '\nAdd --verbose (or set DEBUG=1) to print the stack of an error.');
  await runCliMain(async (args) => {
    await program.parseAsync(args);
  }, argv);
}
