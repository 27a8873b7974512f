/**
 * Typed errors shared by every selfpatch-ts package. Each names the file, key or option at fault
 * so a user can act on the message without reading code.
 */

export { SelfPatchError, ShapeError, CheckpointFormatError, DisallowedPickleGlobalError } from '@selfpatch/checkpoint';
import { SelfPatchError } from '@selfpatch/checkpoint';

/** A configuration value is missing, out of range or incompatible with another. */
export class ConfigError extends SelfPatchError {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`invalid option '${option}': ${message}`);
  }
}

/** One parameter whose stored shape differs from the module's. */
export interface ShapeMismatch {
  key: string;
  expected: number[];
  actual: number[];
}

/** A state dict does not fit a module: lists every missing, unexpected and mis-shaped key. */
export class StateDictError extends SelfPatchError {
  constructor(
    readonly missing: string[],
    readonly unexpected: string[],
    readonly mismatched: ShapeMismatch[],
    context = 'state dict',
  ) {
    const parts: string[] = [];
    const show = (keys: string[]): string =>
      keys.slice(0, 20).join(', ') + (keys.length > 20 ? `, ... (${keys.length} in all)` : '');
    if (missing.length > 0) parts.push(`missing keys: ${show(missing)}`);
    if (unexpected.length > 0) parts.push(`unexpected keys: ${show(unexpected)}`);
    if (mismatched.length > 0) {
      parts.push(
        'shape mismatches: ' +
          mismatched
            .slice(0, 20)
            .map((m) => `${m.key} expected [${m.expected.join(',')}] got [${m.actual.join(',')}]`)
            .join('; '),
      );
    }
    super(`${context} does not match the module: ${parts.join('; ')}`);
  }
}

/** A requested tfjs backend cannot be loaded. */
export class BackendUnavailableError extends SelfPatchError {
  constructor(
    readonly backend: string,
    message: string,
  ) {
    super(message);
  }
}
