/**
 * @selfpatch/ssl — image-level objectives and their training steps (docs/selfpatch.md §3-5,
 * docs/swin-moby.md §2): DINOTrainer and MoBYTrainer side by side, sharing OptimizerStep.
 */
export { DINOHead, type DINOHeadOptions } from './dino-head.js';
export { DINOLoss, type DINOLossOptions, type DINOTargets, type LossTerms } from './dino-loss.js';
export { cosineSchedule, mobyLrSchedule, teacherTempSchedule, scaledLr } from './schedules.js';
export { paramGroups, type ParamGroups } from './param-groups.js';
export { clipGradients, clipGradNorm, cancelLastLayerGradients } from './clip-gradients.js';
export { AdamW, type AdamWOptions, type AdamGroup, type AdamWStateDict } from './adamw.js';
export { emaUpdate } from './ema.js';
export { SelfPatchDINO, type SelfPatchDINOConfig, type WrapperOutput } from './selfpatch-dino.js';
export { NonFiniteLossError } from './non-finite-loss.js';
export { OptimizerStep, iterationAt, scheduleAt, type ClipRule, type OptimizerStepOptions, type OptimizerState, type Schedules, type StepSchedule, type UpdateResult } from './optimizer-step.js';
export type { TrainStepResult } from './train-step-result.js';
export { DINOTrainer, type DINOTrainerOptions, type DINOTrainerState, type DINOStepResult, type StepHooks } from './dino-trainer.js';
export { MoBYTrainer, type MoBYTrainerOptions, type MoBYTrainerState } from './moby-trainer.js';
export { MoBY, MoBYMLP, contrastiveLoss, mobyMomentum, type MoBYOptions, type MoBYStepResult } from './moby.js';
export { MoBYSelfPatch, type MoBYSelfPatchOptions } from './moby-selfpatch.js';
