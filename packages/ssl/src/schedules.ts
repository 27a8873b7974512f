/**
 * Schedules of the official training loop (docs/selfpatch.md §4 "Teacher temperature", §5
 * "Schedules"), in float64 like the reference's numpy arrays.
 */
import { ConfigError } from '@selfpatch/nn';

/** Checked iteration counts of a per-iteration schedule: all of them and the warm-up's. */
function scheduleLength(epochs: number, niterPerEpoch: number, warmupEpochs: number, toInt: (x: number) => number): { total: number; warm: number } {
  if (!Number.isInteger(epochs) || epochs < 1) throw new ConfigError('epochs', `must be a positive integer, got ${epochs}`);
  if (!Number.isInteger(niterPerEpoch) || niterPerEpoch < 1) throw new ConfigError('niter_per_ep', `must be a positive integer, got ${niterPerEpoch}`);
  const total = epochs * niterPerEpoch;
  const warm = toInt(warmupEpochs * niterPerEpoch);
  if (warm < 0 || warm > total) throw new ConfigError('warmup_epochs', `must be in [0, epochs], got ${warmupEpochs}`);
  return { total, warm };
}

/**
 * `utils.cosine_scheduler`: `linspace(start, base, warmup_epochs·niter)` (endpoint included), then
 * `final + ½(base − final)(1 + cos(π j / L))` for `j < L`. The base value appears twice at the
 * junction and `final` is never reached exactly, as in the reference.
 *
 * @example
 * ```ts
 * const lr = cosineSchedule(0.0005 * 1024 / 256, 1e-6, 100, 1250, 10); // per iteration
 * ```
 */
export function cosineSchedule(base: number, final: number, epochs: number, niterPerEpoch: number, warmupEpochs = 0, startWarmupValue = 0): Float64Array {
  // numpy's `warmup_epochs * niter_per_ep` array length (an integer for whole epochs).
  const { total, warm } = scheduleLength(epochs, niterPerEpoch, warmupEpochs, Math.round);
  const out = new Float64Array(total);
  for (let i = 0; i < warm; i++) out[i] = warm === 1 ? startWarmupValue : startWarmupValue + ((base - startWarmupValue) * i) / (warm - 1);
  const len = total - warm;
  for (let j = 0; j < len; j++) out[warm + j] = final + 0.5 * (base - final) * (1 + Math.cos((Math.PI * j) / len));
  return out;
}

/** Teacher temperature per epoch: `linspace(warmup, temp, warmupEpochs)` then `temp`. */
export function teacherTempSchedule(warmupTemp: number, temp: number, warmupEpochs: number, nepochs: number): Float64Array {
  if (warmupEpochs > nepochs) throw new ConfigError('warmup_teacher_temp_epochs', `${warmupEpochs} exceeds the ${nepochs} epochs`);
  const out = new Float64Array(nepochs).fill(temp);
  for (let i = 0; i < warmupEpochs; i++) out[i] = warmupEpochs === 1 ? warmupTemp : warmupTemp + ((temp - warmupTemp) * i) / (warmupEpochs - 1);
  return out;
}

/** Linear scaling of the base learning rate: `lr · batch_size_per_gpu · world_size / 256`. */
export function scaledLr(lr: number, batchSizePerGpu: number, worldSize = 1): number {
  return (lr * batchSizePerGpu * worldSize) / 256;
}

/**
 * MoBY's learning rate per iteration, as Transformer-SSL's trainer gets it (lr_scheduler.py: timm's
 * `CosineLRScheduler(t_initial = epochs·niter, warmup_t = warmupEpochs·niter, warmup_lr_init,
 * lr_min, cycle_limit 1, t_in_epochs False)`, stepped by `step_update(it)` after each optimizer
 * step; docs/swin-moby.md §2):
 *
 *   f(t) = start + t·(base − start)/W                     for t < W
 *   f(t) = final + ½(base − final)(1 + cos(π t / T))     otherwise
 *
 * The cosine spans the whole run, warm-up included (it does not restart after the warm-up as
 * {@link cosineSchedule} does), and the update after step j sets the lr of step j + 1, so
 * iteration 0 and 1 both run at f(0) and iteration j ≥ 1 at f(j − 1).
 *
 * @example
 * ```ts
 * const lr = mobyLrSchedule(1e-3, 5e-6, 300, 2502, 5, 5e-7); // per iteration, already batch-scaled values
 * ```
 */
export function mobyLrSchedule(base: number, final: number, epochs: number, niterPerEpoch: number, warmupEpochs = 0, startWarmupValue = 0): Float64Array {
  // lr_scheduler.py: `int(WARMUP_EPOCHS * n_iter_per_epoch)`.
  const { total, warm } = scheduleLength(epochs, niterPerEpoch, warmupEpochs, Math.trunc);
  const f = (t: number): number => (t < warm ? startWarmupValue + (t * (base - startWarmupValue)) / warm : final + 0.5 * (base - final) * (1 + Math.cos((Math.PI * t) / total)));
  const out = new Float64Array(total);
  for (let j = 0; j < total; j++) out[j] = f(Math.max(0, j - 1));
  return out;
}
