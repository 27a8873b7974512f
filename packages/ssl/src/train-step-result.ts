/**
 * What one training iteration reports, the same for every objective, so a training loop can log,
 * check and chart any of them without knowing which one runs.
 */
import type { StepSchedule } from './optimizer-step.js';

export interface TrainStepResult extends StepSchedule {
  /** The total loss the gradients were taken of. */
  loss: number;
  /** Its named terms: `cls`, `patch` (DINO/SelfPatch); `loss12`, `loss21`, `patch` (MoBY). */
  terms: Record<string, number>;
  /** Teacher softmax temperature this iteration (DINO-style targets only). */
  teacherTemp?: number;
  /** Gradient norms before clipping: per parameter, or the global norm under the key `*`. */
  gradNorms: Map<string, number>;
}
