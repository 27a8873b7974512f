/** The one error every objective raises when its loss is NaN or infinite, before changing anything. */
import { SelfPatchError } from '@selfpatch/nn';

/**
 * The loss was NaN or infinite at `iteration`; `kept` says what was left unchanged (parameters,
 * optimizer state, queues, centres), so the caller can resume from the last checkpoint.
 */
export class NonFiniteLossError extends SelfPatchError {
  constructor(
    readonly iteration: number,
    readonly value: number,
    objective = 'loss',
    kept = 'parameters were not updated',
  ) {
    super(`${objective} is ${value} at iteration ${iteration}; stopping training (${kept})`);
  }
}
