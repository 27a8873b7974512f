/**
 * One top-level error policy for every selfpatch-ts command line (`selfpatch-train`,
 * `selfpatch-eval`, `selfpatch-infer`): any failure becomes one readable line on stderr and a
 * stable exit code per failure class, never a stack dump of minified library source. The stack is
 * printed only on request (`--verbose` or `DEBUG`), because it helps a bug report and nothing else.
 *
 * Written here rather than with a library: the classes are this project's own error types, and the
 * mapping from Node's errno codes to "a write failed" is the part that matters.
 */
import { SelfPatchError } from './errors.js';
import { WriteError } from './write-error.js';

/** Exit codes shared by the CLIs (documented in the README). */
export const EXIT = {
  ok: 0,
  /** An unexpected failure: a bug, or an environment problem the code did not foresee. */
  internal: 1,
  /** Invalid input: options, config, data folders, checkpoint files. */
  invalidInput: 2,
  /** Training stopped on a non-finite loss (the last good checkpoint is kept). */
  nonFinite: 3,
  /** A write failed (full disk, read-only folder, permissions); earlier files are intact. */
  writeFailed: 4,
  /** The output folder is in use by another run. */
  busy: 5,
  /** Stopped by SIGINT / SIGTERM after saving. */
  interrupted: 130,
} as const;

/** errno codes that mean "the disk or folder refused a write", whatever call hit them. */
const WRITE_ERRNOS = new Set(['ENOSPC', 'EROFS', 'EDQUOT', 'EFBIG']);

interface ErrnoLike {
  code?: unknown;
  path?: unknown;
  syscall?: unknown;
  message?: unknown;
}

/** A SelfPatchError that carries its own exit code (e.g. a training stop). */
interface WithExitCode {
  exitCode: number;
}

function hasExitCode(err: unknown): err is WithExitCode {
  return typeof (err as { exitCode?: unknown }).exitCode === 'number';
}

/** The exit code of a failure. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof WriteError) return EXIT.writeFailed;
  if (err instanceof SelfPatchError) return hasExitCode(err) ? err.exitCode : EXIT.invalidInput;
  const code = (err as ErrnoLike | null)?.code;
  if (typeof code === 'string' && WRITE_ERRNOS.has(code)) return EXIT.writeFailed;
  return EXIT.internal;
}

/** One line describing a failure, with what to do where that is known. */
export function describeFailure(err: unknown): string {
  if (err instanceof SelfPatchError) return `error: ${err.message}`;
  const e = (err ?? {}) as ErrnoLike;
  const message = typeof e.message === 'string' ? (e.message.split('\n')[0] ?? '') : String(err);
  if (typeof e.code === 'string' && WRITE_ERRNOS.has(e.code)) {
    const file = typeof e.path === 'string' ? e.path : 'a file';
    return `error: could not write ${file} (${e.code}); earlier files are intact: free space or fix the folder, then run again`;
  }
  if (err instanceof RangeError && /call stack/i.test(message)) {
    return `error: input nested too deeply to process (${message}); this is a bug if the input is valid: rerun with --verbose and report it`;
  }
  return `error: unexpected ${err instanceof Error ? err.name : 'failure'}: ${message.slice(0, 500)} (rerun with --verbose for the stack, and report it if the input was valid)`;
}

/** True when the user asked for stack traces (`--verbose` anywhere in argv, or `DEBUG` set). */
export function wantsVerbose(argv: readonly string[] = process.argv, env: NodeJS.ProcessEnv = process.env): boolean {
  return argv.includes('--verbose') || (env.DEBUG !== undefined && env.DEBUG !== '' && env.DEBUG !== '0');
}

/**
 * Runs a CLI body: on failure prints one line (plus the stack when verbose) and sets the exit
 * code; then exits, because worker threads and the wasm runtime must not keep a finished command
 * alive.
 *
 * @example
 * ```ts
 * import { runCliMain } from '@selfpatch/checkpoint/node';
 * await runCliMain(async (argv) => { await program.parseAsync(argv); });
 * ```
 */
export async function runCliMain(body: (argv: string[]) => Promise<void>, argv: string[] = process.argv): Promise<never> {
  const verbose = wantsVerbose(argv);
  try {
    await body(argv.filter((a) => a !== '--verbose'));
  } catch (err) {
    console.error(`\n${describeFailure(err)}`);
    if (verbose && err instanceof Error && err.stack) console.error(err.stack);
    process.exitCode = exitCodeFor(err);
  }
  process.exit(process.exitCode ?? 0);
}
