/** Backbone loading from a file path (Node). */
import { readCheckpointBytes } from '@selfpatch/checkpoint/node';
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
  return loadBackbone(readCheckpointBytes(path), path, options);
}
