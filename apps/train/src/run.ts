/**
 * The training loop: data loader → objective step → metrics → periodic atomic checkpoints, with exact
 * resume (model, optimizer, centers, RNG, data position), graceful SIGINT/SIGTERM (finish the step,
 * save, exit) and a clean stop on a non-finite loss (the last good checkpoint is kept).
 */
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, SelfPatchError } from '@selfpatch/nn';
import { DataLoader, demoImagesDir, imageFolder, type Batch } from '@selfpatch/data';
import { acquireRunLock, removeStaleTemps, WriteError } from '@selfpatch/checkpoint/node';
import { NonFiniteLossError } from '@selfpatch/ssl';
import { RESUME_MUTABLE, type TrainConfig } from './config.js';
import { checkpointDir, latestCheckpoint, listCheckpoints, newestIntactCheckpoint, saveCheckpoint, type RunPosition } from './checkpoint.js';
import { createObjective, type StepMetrics } from './objectives.js';
import { exportTeacher } from './export.js';

/** A stop the user should read as a message, not a stack trace. */
export class TrainingStopped extends SelfPatchError {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export interface MetricsRecord extends StepMetrics {
  step: number;
  epoch: number;
  img_per_s: number;
  time: number;
}

export interface RunHooks {
  log?: (line: string) => void;
  /** Called after every step (progress bars). */
  onStep?: (m: MetricsRecord, totalSteps: number) => void;
  /** Abort signal: when aborted, the loop saves after the current step and stops. */
  signal?: AbortSignal;
}

export interface RunResult {
  /** Iterations completed (the next one to run). */
  iteration: number;
  checkpoint: string | null;
  exported: { safetensors: string; pth: string } | null;
  interrupted: boolean;
  skippedFiles: number;
}

/** The images of a run: the folder's files (recursive), or the embedded demo photos. */
export function dataFiles(config: TrainConfig, log: (line: string) => void = () => {}): { root: string; files: string[] } {
  const root = config.data === '' ? demoImagesDir() : resolve(config.data);
  let folder;
  try {
    folder = imageFolder(root, { onLoop: (p) => log(`warning: ${p} links back to a folder already read (a symlink loop); not read twice`) });
  } catch (err) {
    throw new ConfigError('data', (err as Error).message);
  }
  const files = [...folder.samples.map((s) => s.path), ...folder.ignored].sort();
  if (files.length < config.batch_size) throw new ConfigError('batch_size', `${config.batch_size} exceeds the ${files.length} images in ${root}`);
  return { root, files };
}

function filesId(root: string, files: string[]): { count: number; hash: string } {
  const h = createHash('sha256');
  for (const f of files) h.update(`${relative(root, f)}\n`);
  return { count: files.length, hash: h.digest('hex').slice(0, 16) };
}

function checkResumeConfig(saved: TrainConfig, requested: TrainConfig): TrainConfig {
  const changed = (Object.keys(saved) as Array<keyof TrainConfig>).filter(
    (k) => !RESUME_MUTABLE.has(k) && JSON.stringify(saved[k]) !== JSON.stringify(requested[k]),
  );
  if (changed.length > 0) {
    const k = changed[0] as keyof TrainConfig;
    throw new ConfigError(
      k,
      `cannot change ${changed.map((c) => `'${c}'`).join(', ')} when resuming (checkpoint has ${k}=${JSON.stringify(saved[k])}, requested ${JSON.stringify(requested[k])}); start a new run with another --out`,
    );
  }
  const merged = { ...saved };
  for (const k of RESUME_MUTABLE) (merged as Record<string, unknown>)[k] = requested[k];
  return merged;
}

/** Runs a write, turning an fs failure into a {@link WriteError} naming the file. */
function writing<T>(file: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof WriteError) throw err;
    throw new WriteError(file, err as Error);
  }
}

/**
 * A failed write during a run, saying what is safe: the last checkpoint on disk, or that there
 * was none yet.
 */
export class RunWriteError extends WriteError {
  constructor(failed: WriteError, lastCheckpoint: string | null) {
    super(failed.file, new Error(failed.reason));
    this.message +=
      '. ' +
      (lastCheckpoint
        ? `The last checkpoint, ${lastCheckpoint}, is intact; free space or fix permissions, then --resume`
        : 'No checkpoint had been written yet; free space or fix permissions, then start the run again');
  }
}

/** Keeps metrics.jsonl consistent with a resumed position (drops lines past it). */
function trimMetrics(path: string, nextStep: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .filter((l) => {
      try {
        return (JSON.parse(l) as { step: number }).step < nextStep;
      } catch {
        return false;
      }
    });
  writing(path, () => writeFileSync(path, kept.length ? `${kept.join('\n')}\n` : ''));
}

/**
 * Trains according to `config`, resuming from the newest checkpoint in `config.out` when `resume`.
 *
 * @example
 * ```ts
 * import { resolveConfig, train } from '@selfpatch/train';
 * const result = await train(resolveConfig('demo', { max_steps: 5, out: 'runs/try' }), { resume: false });
 * console.log(result.checkpoint);
 * ```
 */
export async function train(requested: TrainConfig, options: { resume: boolean } & RunHooks): Promise<RunResult> {
  const log = options.log ?? ((l: string) => console.error(l));
  const out = resolve(requested.out);
  const existed = existsSync(out);
  try {
    mkdirSync(out, { recursive: true });
  } catch (err) {
    throw new ConfigError('out', `cannot create output directory ${out}: ${(err as Error).message}`);
  }
  // One writer per run folder: a second process would interleave checkpoints and metrics.
  const lock = acquireRunLock(out);
  let wroteOutput = false;
  try {
    return await trainLocked(requested, out, options, log, () => (wroteOutput = true));
  } catch (err) {
    if (err instanceof WriteError && !(err instanceof RunWriteError)) throw new RunWriteError(err, newestIntactCheckpoint(out));
    throw err;
  } finally {
    lock.release();
    // A run refused before its first write leaves no folder behind that it created.
    if (!existed && !wroteOutput) rmSync(out, { recursive: true, force: true });
  }
}

async function trainLocked(requested: TrainConfig, out: string, options: { resume: boolean } & RunHooks, log: (line: string) => void, markWritten: () => void): Promise<RunResult> {
  let config = requested;
  let resumeFrom: ReturnType<typeof latestCheckpoint> = null;
  if (options.resume) {
    resumeFrom = latestCheckpoint(out, (p, why) => log(`warning: skipping unreadable checkpoint ${p}: ${why}`));
    if (!resumeFrom) throw new ConfigError('--resume', `no checkpoint to resume in ${join(out, 'checkpoints')}`);
    config = checkResumeConfig(resumeFrom.ckpt.config, requested);
  } else if (listCheckpoints(out).length > 0) {
    throw new ConfigError('out', `${out} already holds checkpoints; pass --resume to continue that run or choose another --out`);
  }
  for (const t of removeStaleTemps(checkpointDir(out))) log(`removed ${join(checkpointDir(out), t)}, left by an interrupted write`);
  const { root, files } = dataFiles(config, log);
  const ids = filesId(root, files);
  if (resumeFrom && (resumeFrom.ckpt.position.files.hash !== ids.hash || resumeFrom.ckpt.position.files.count !== ids.count)) {
    throw new ConfigError('data', `${root} does not hold the images the checkpoint was trained on (${ids.count} files now, ${resumeFrom.ckpt.position.files.count} then); resuming would not continue the same run`);
  }
  const loader0 = Math.floor(files.length / config.batch_size);
  const objective = createObjective({ config, niterPerEpoch: loader0 });
  const loader = new DataLoader({ files, batchSize: config.batch_size, seed: config.seed, recipe: objective.recipe, workers: config.num_workers ?? undefined, onSkip: (f) => log(`skipped ${f.path}: ${f.reason}`) });
  const totalSchedule = config.epochs * loader0;
  const stopAt = Math.min(totalSchedule, config.max_steps ?? totalSchedule);
  const metricsPath = join(out, 'metrics.jsonl');
  let it = 0;
  let elapsed = 0;
  if (resumeFrom) {
    objective.setState(resumeFrom.ckpt.objective);
    loader.setState(resumeFrom.ckpt.position.loader);
    it = resumeFrom.ckpt.position.iteration;
    elapsed = resumeFrom.ckpt.position.elapsed;
  }

  const save = (): string => {
    const position: RunPosition = { iteration: it, loader: loader.getState(), files: ids, elapsed };
    return saveCheckpoint(out, { config, position, objective: objective.getState() }, config.keep_last);
  };
  let lastCheckpoint: string | null = resumeFrom?.path ?? null;
  let lastSaved = it;
  let interrupted = false;
  try {
    // The first batch is read before anything is written, so a folder with too few usable images
    // is refused without leaving a half-made run behind.
    const firstPosition = loader.getState();
    let ready: Batch | null = it < stopAt ? await loader.next() : null;
    if (resumeFrom) {
      trimMetrics(metricsPath, it);
      log(`resumed from ${resumeFrom.path} at step ${it}`);
    } else {
      writing(metricsPath, () => writeFileSync(metricsPath, ''));
    }
    markWritten();
    writing(join(out, 'config.json'), () => writeFileSync(join(out, 'config.json'), `${JSON.stringify(config, null, 2)}\n`));
    log(`${config.method} on ${config.arch} (${(objective.numParams / 1e6).toFixed(2)}M parameters), ${files.length} images from ${root}, batch ${config.batch_size}, ${loader0} steps/epoch; steps ${it} → ${stopAt}`);
    while (it < stopAt) {
      // A turn of the event loop, so SIGINT/SIGTERM handlers run even when every step is
      // synchronous (cpu backend) and the batches are already prefetched.
      await new Promise<void>((r) => setImmediate(r));
      if (options.signal?.aborted) {
        // The batch read ahead was not trained on: the checkpoint must point back at it.
        if (ready) loader.setState(firstPosition);
        interrupted = true;
        break;
      }
      const t0 = performance.now();
      const batch = ready ?? (await loader.next());
      ready = null;
      const crops = batch.crops.map((data, i) => {
        const s = batch.sizes[i] as number;
        return tf.tensor4d(data, [batch.batchSize, 3, s, s]);
      });
      let m: StepMetrics;
      try {
        m = objective.step(crops, it);
      } catch (err) {
        if (err instanceof NonFiniteLossError) {
          throw new TrainingStopped(
            `${err.message}. The last good checkpoint is ${lastCheckpoint ?? '(none yet)'}; lower lr, raise warmup_epochs or check the data, then resume from it.`,
            3,
          );
        }
        throw err;
      } finally {
        tf.dispose(crops);
      }
      it += 1;
      const dt = (performance.now() - t0) / 1000;
      elapsed += dt;
      const rec: MetricsRecord = { step: it - 1, epoch: Math.floor((it - 1) / loader0), ...m, img_per_s: batch.batchSize / dt, time: elapsed };
      writing(metricsPath, () => appendFileSync(metricsPath, `${JSON.stringify(rec)}\n`));
      options.onStep?.(rec, stopAt);
      if (it % config.save_every === 0 && it < stopAt) {
        lastCheckpoint = save();
        lastSaved = it;
      }
    }
    if (lastSaved !== it || !lastCheckpoint) lastCheckpoint = save();
    let exported: RunResult['exported'] = null;
    if (it >= stopAt && !interrupted) exported = exportTeacher(objective.teacherBackbone(), out, config);
    if (loader.skipped.length > 0) log(`${loader.skipped.length} image file(s) could not be used and were skipped (listed above)`);
    return { iteration: it, checkpoint: lastCheckpoint, exported, interrupted, skippedFiles: loader.skipped.length };
  } finally {
    await loader.close();
    objective.dispose();
  }
}
