/**
 * What a run's configuration means against its preset's recipe: the global batch, the peak
 * learning rate after the linear scaling rule, steps per epoch, warm-up steps, and every recipe
 * value the run changed. `selfpatch-train presets` prints it for each preset; a training run
 * prints the changes at start, so a smaller batch (one machine instead of eight GPUs) is never
 * mistaken for the paper's recipe.
 */
import type { TrainConfig } from './config.js';
import { IMAGENET_TRAIN_IMAGES, PRESETS, type Sourced } from './presets.js';

/** Keys that only steer the run (where, how often, on what), never the recipe. */
const RUN_CONTROL: ReadonlySet<string> = new Set(['out', 'data', 'max_steps', 'save_every', 'keep_last', 'log_every', 'num_workers', 'backend', 'threads', 'micro_batch', 'seed']);

export interface RecipeChange {
  key: keyof TrainConfig;
  value: unknown;
  recipe: unknown;
  source: string;
}

export interface RecipeSummary {
  preset: string;
  kind: string;
  summary: string;
  globalBatch: number;
  /** lr · batch / lr_batch_ref, the learning rate at the end of the warm-up. */
  peakLr: number;
  /** Full batches per epoch (the last partial batch is dropped, as the official loaders do). */
  stepsPerEpoch: number;
  warmupSteps: number;
  totalSteps: number;
  images: number;
  changes: RecipeChange[];
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** The run's config against preset `name`'s recipe values, on `images` training images. */
export function recipeSummary(name: string, config: TrainConfig, imageCount?: number): RecipeSummary {
  const preset = PRESETS[name];
  if (!preset) throw new Error(`unknown preset '${name}'`);
  const images = imageCount ?? preset.images ?? IMAGENET_TRAIN_IMAGES;
  const changes: RecipeChange[] = [];
  for (const [key, entry] of Object.entries(preset.values)) {
    if (RUN_CONTROL.has(key)) continue;
    const [recipe, source] = entry as Sourced<unknown>;
    const value = config[key as keyof TrainConfig];
    if (!same(value, recipe)) changes.push({ key: key as keyof TrainConfig, value, recipe, source });
  }
  const stepsPerEpoch = Math.floor(images / config.batch_size);
  return {
    preset: name,
    kind: preset.kind,
    summary: preset.summary,
    globalBatch: config.batch_size,
    peakLr: (config.lr * config.batch_size) / config.lr_batch_ref,
    stepsPerEpoch,
    warmupSteps: Math.trunc(config.warmup_epochs * stepsPerEpoch),
    totalSteps: config.epochs * stepsPerEpoch,
    images,
    changes,
  };
}

const fmt = (v: unknown): string => (typeof v === 'number' ? String(Number(v.toPrecision(6))) : JSON.stringify(v));

/** The lines `presets` prints for one preset (and a run prints when it changes the recipe). */
export function describeRecipe(s: RecipeSummary): string[] {
  const lines = [
    `${s.preset}: ${s.summary} [${s.kind}]`,
    `  global batch ${s.globalBatch}, peak lr ${fmt(s.peakLr)}, ${s.stepsPerEpoch} steps/epoch on ${s.images} images, ${s.warmupSteps} warm-up steps, ${s.totalSteps} steps`,
  ];
  if (s.changes.length === 0) {
    lines.push({ official: '  the recipe as published', adapted: '  the published recipe with the change stated above', ours: '  (not a published recipe)' }[s.kind as 'official'] ?? '');
    return lines;
  }
  lines.push(`  differs from the ${s.kind === 'ours' ? 'preset' : 'recipe'}:`);
  for (const c of s.changes) {
    const why = c.key === 'batch_size' ? ` (the peak lr follows the linear scaling rule; the recipe's is ${fmt((Number(c.recipe) * s.peakLr) / s.globalBatch)})` : '';
    lines.push(`    ${c.key} ${fmt(c.value)} (recipe ${fmt(c.recipe)}: ${c.source})${why}`);
  }
  return lines;
}
