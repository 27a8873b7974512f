/**
 * @selfpatch/ssl — image-level objectives and the training step (docs/selfpatch.md §3-5).
 */
export { DINOHead, type DINOHeadOptions } from './dino-head.js';
export { DINOLoss, type DINOLossOptions, type DINOTargets, type LossTerms } from './dino-loss.js';
export { cosineSchedule, teacherTempSchedule, scaledLr } from './schedules.js';
export { paramGroups, type ParamGroups } from './param-groups.js';
export { clipGradients, clipGradNorm, cancelLastLayerGradients } from './clip-gradients.js';
export { AdamW, type AdamWOptions, type AdamGroup, type AdamWStateDict } from './adamw.js';
export { emaUpdate } from './ema.js';
export { SelfPatchDINO, type SelfPatchDINOConfig, type WrapperOutput } from './selfpatch-dino.js';
export { NonFiniteLossError } from './non-finite-loss.js';
export { Trainer, type TrainerOptions, type TrainerState, type StepResult, type StepHooks, type Schedules } from './trainer.js';
export { MoBY, MoBYMLP, contrastiveLoss, mobyMomentum, type MoBYOptions, type MoBYStepResult } from './moby.js';
export { MoBYSelfPatch, type MoBYSelfPatchOptions } from './moby-selfpatch.js';
