/**
 * The error base class of selfpatch-ts and the errors of reading and writing checkpoints. Every
 * error names the file, key or option at fault so a user can act on the message without reading
 * code. (The base lives in this package, the lowest of the dependency chain, so every package's
 * errors share it.)
 */

/** Base class: every error raised deliberately by selfpatch-ts derives from it. */
export class SelfPatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A tensor has the wrong rank or shape for an operation. */
export class ShapeError extends SelfPatchError {}

/** A checkpoint file is malformed, truncated, unsupported or unsafe. */
export class CheckpointFormatError extends SelfPatchError {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

/** A pickle references a global outside the allow-list (it would execute code in Python). */
export class DisallowedPickleGlobalError extends CheckpointFormatError {
  constructor(
    file: string,
    readonly global: string,
  ) {
    super(
      file,
      `pickle references the disallowed global '${global}'; only tensors, containers and known ` +
        'torch/collections/argparse types are loaded (nothing is executed)',
    );
  }
}
