/** Backbone loading from a file path (Node). */
import { readFileSync } from 'node:fs';
import { CheckpointFormatError } from '@selfpatch/nn';
import { loadBackbone, type DenseBackbone, type LoadBackboneOptions } from '../backbone.js';

/**
 * {@link loadBackbone} from a file path.
 *
 * @example
 * ```ts
 * const net = loadBackboneFile('runs/demo/teacher_backbone.safetensors');
 * ```
 */
export function loadBackboneFile(path: string, options: LoadBackboneOptions = {}): DenseBackbone {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new CheckpointFormatError(path, `cannot read file (${(err as Error).message})`);
  }
  return loadBackbone(bytes, path, options);
}
