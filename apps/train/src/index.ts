/**
 * @selfpatch/train — the pretraining app as a library: the same config, loop, checkpoints, report
 * and export the `selfpatch-train` CLI uses.
 */
export { ARCHS, METHODS, PRESETS, DEFAULT_PRESET, RESUME_MUTABLE, trainConfigSchema, validateConfig, readConfigFile, parseOverrides, resolveConfig, type TrainConfig } from './config.js';
export { train, dataFiles, TrainingStopped, type RunHooks, type RunResult, type MetricsRecord } from './run.js';
export { createObjective, DinoObjective, MobyObjective, type TrainObjective, type ObjectiveState, type StepMetrics } from './objectives.js';
export { saveCheckpoint, readTrainCheckpoint, latestCheckpoint, listCheckpoints, checkpointDir, CHECKPOINT_FORMAT, type TrainCheckpoint, type RunPosition } from './checkpoint.js';
export { exportTeacher, exportCheckpoint } from './export.js';
export { writeReport, reportSvg, readMetrics } from './report.js';
export { buildProgram, main } from './cli.js';
