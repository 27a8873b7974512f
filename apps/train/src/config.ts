/**
 * Training configuration: one flat object with the official argparse/yacs names
 * (`main_selfpatch.py`, MoBY `config.py`; docs/selfpatch.md §7, docs/swin-moby.md §2),
 * validated by a zod schema so unknown keys, out-of-range values and incompatible combinations are
 * rejected with the key at fault before anything is computed.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '@selfpatch/nn';
import { PRESETS, presetConfig } from './presets.js';

export const ARCHS = ['vit_tiny', 'vit_small', 'vit_base', 'swin_tiny'] as const;
export const METHODS = ['dino', 'dino+selfpatch', 'moby', 'moby+selfpatch'] as const;

const positiveInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();
const unit = z.number().min(0).max(1);
const scale = z
  .tuple([z.number().gt(0).max(1), z.number().gt(0).max(1)])
  .refine(([a, b]) => a <= b, { message: 'expected [min, max] with min <= max' });

export const trainConfigSchema = z
  .strictObject({
    arch: z.enum(ARCHS),
    method: z.enum(METHODS),
    /** Image folder (recursively scanned). Empty: the embedded demo photos. */
    data: z.string(),
    out: z.string().min(1),
    seed: nonNegInt,
    // Backbone. Overrides of the arch preset (null keeps it): small custom nets for demos/tests.
    patch_size: positiveInt,
    embed_dim: positiveInt.nullable(),
    depth: positiveInt.nullable(),
    num_heads: positiveInt.nullable(),
    swin_depths: z.array(positiveInt).min(1).nullable(),
    swin_num_heads: z.array(positiveInt).min(1).nullable(),
    window_size: positiveInt,
    drop_path_rate: z.number().min(0).lt(1),
    // DINO / SelfPatch heads and loss.
    out_dim: positiveInt,
    out_dim_selfpatch: positiveInt,
    hidden_dim: positiveInt,
    bottleneck_dim: positiveInt,
    norm_last_layer: z.boolean(),
    use_bn_in_head: z.boolean(),
    k_num: positiveInt,
    patch_border: z.enum(['torus', 'clamp']),
    patch_weight: z.number().min(0),
    momentum_teacher: unit,
    warmup_teacher_temp: z.number().positive(),
    teacher_temp: z.number().positive(),
    warmup_teacher_temp_epochs: nonNegInt,
    // MoBY.
    contrast_num_negative: positiveInt,
    contrast_momentum: unit,
    contrast_temperature: z.number().positive(),
    proj_num_layers: positiveInt,
    pred_num_layers: positiveInt,
    moby_inner_dim: positiveInt,
    moby_out_dim: positiveInt,
    // Crops.
    global_crop_size: positiveInt,
    local_crop_size: positiveInt,
    local_crops_number: nonNegInt,
    global_crops_scale: scale,
    local_crops_scale: scale,
    // Optimisation. lr is per `lr_batch_ref` images (linear scaling: 256 for DINO, 512 for MoBY).
    batch_size: positiveInt,
    epochs: positiveInt,
    lr: z.number().positive().finite(),
    lr_batch_ref: positiveInt,
    min_lr: z.number().min(0),
    warmup_lr: z.number().min(0),
    warmup_epochs: nonNegInt,
    weight_decay: z.number().min(0),
    weight_decay_end: z.number().min(0),
    clip_grad: z.number().min(0),
    freeze_last_layer: nonNegInt,
    /** Images per taped student graph (memory); null: a whole crop group. */
    micro_batch: positiveInt.nullable(),
    // Run control.
    max_steps: positiveInt.nullable(),
    save_every: positiveInt,
    keep_last: positiveInt,
    log_every: positiveInt,
    num_workers: nonNegInt.nullable(),
    backend: z.enum(['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu']),
    // XNNPACK threads on wasm (docs/tfjs-backends.md §1.3): opt-in, a loss when the other cores are busy.
    threads: positiveInt.max(8),
  })
  .superRefine((c, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    const dino = c.method.startsWith('dino');
    const swin = c.arch === 'swin_tiny';
    if (dino && swin) issue('method', `'${c.method}' needs a ViT arch (the DINO wrapper reads a ViT token grid); use 'moby' or 'moby+selfpatch' with swin_tiny`);
    if (c.method === 'moby+selfpatch' && !swin) issue('arch', "'moby+selfpatch' needs swin_tiny (its patch branch uses the Swin last-stage grid)");
    if (c.global_crop_size % c.patch_size !== 0 && !swin) issue('global_crop_size', `${c.global_crop_size} is not a multiple of patch_size ${c.patch_size}`);
    if (dino && c.local_crop_size % c.patch_size !== 0) issue('local_crop_size', `${c.local_crop_size} is not a multiple of patch_size ${c.patch_size}`);
    if (c.method === 'dino+selfpatch') {
      for (const k of ['global_crop_size', 'local_crop_size'] as const) {
        if (c[k] / c.patch_size < 3 && (k === 'global_crop_size' || c.local_crops_number > 0)) issue(k, `${c[k]} px gives a ${Math.floor(c[k] / c.patch_size)}×${Math.floor(c[k] / c.patch_size)} patch grid; SelfPatch's 3×3 neighbourhood needs at least 3×3 (crop >= 3·patch_size)`);
      }
    }
    if (c.patch_border === 'clamp' && c.k_num > 3 && c.method.endsWith('+selfpatch')) issue('k_num', `${c.k_num} exceeds the 3 candidates a corner patch has with patch_border clamp`);
    if (c.embed_dim !== null && c.num_heads !== null && c.embed_dim % c.num_heads !== 0) issue('num_heads', `embed_dim ${c.embed_dim} is not divisible by num_heads ${c.num_heads}`);
    if ((c.swin_depths === null) !== (c.swin_num_heads === null) || (c.swin_depths && c.swin_num_heads && c.swin_depths.length !== c.swin_num_heads.length)) {
      issue('swin_num_heads', 'swin_depths and swin_num_heads must be given together, with one entry per stage');
    }
    if (c.warmup_epochs > c.epochs) issue('warmup_epochs', `${c.warmup_epochs} exceeds epochs ${c.epochs}`);
    if (c.warmup_teacher_temp_epochs > c.epochs) issue('warmup_teacher_temp_epochs', `${c.warmup_teacher_temp_epochs} exceeds epochs ${c.epochs}`);
    if (c.min_lr > c.lr) issue('min_lr', `${c.min_lr} is above lr ${c.lr}`);
    if (c.method === 'moby' || c.method === 'moby+selfpatch') {
      if (c.contrast_num_negative % c.batch_size !== 0) issue('contrast_num_negative', `${c.contrast_num_negative} must be a multiple of batch_size ${c.batch_size} (the queue advances a batch at a time)`);
      if (c.batch_size < 2) issue('batch_size', 'MoBY needs at least 2 images per batch (BatchNorm statistics)');
    }
  });

export type TrainConfig = z.infer<typeof trainConfigSchema>;

/** One line of help per config key (the CLI's --help and `presets`); the type makes it exhaustive. */
export const CONFIG_HELP: Readonly<Record<keyof TrainConfig, string>> = {
  arch: `backbone: ${ARCHS.join(' | ')}`,
  method: `objective: ${METHODS.join(' | ')}`,
  data: 'image folder, scanned recursively (default: the embedded demo photos)',
  out: 'run folder: checkpoints, metrics.jsonl, the exported teacher (default: <preset out>-<time>)',
  seed: 'seed of initialisation, data order, augmentations and drop-path',
  patch_size: 'ViT patch size in pixels',
  embed_dim: 'override the arch embedding width (null keeps the arch value)',
  depth: 'override the number of ViT blocks (null keeps the arch value)',
  num_heads: 'override the number of ViT attention heads (null keeps the arch value)',
  swin_depths: 'override the Swin blocks per stage, e.g. [2,2,6,2] (with swin_num_heads)',
  swin_num_heads: 'override the Swin heads per stage, e.g. [3,6,12,24] (with swin_depths)',
  window_size: 'Swin attention window',
  drop_path_rate: 'stochastic depth rate of the student/online encoder',
  out_dim: 'DINO head output dimension (prototypes of the image-level loss)',
  out_dim_selfpatch: 'SelfPatch patch-head output dimension',
  hidden_dim: 'hidden width of the projection heads',
  bottleneck_dim: 'bottleneck width of the projection heads',
  norm_last_layer: 'weight-normalise the heads\' last layer with a fixed norm',
  use_bn_in_head: 'BatchNorm in the DINO head MLP',
  k_num: 'SelfPatch positives per patch (top-k of the 3x3 neighbourhood)',
  patch_border: "SelfPatch neighbourhood at the grid's edges: torus (wrap, the official rule) | clamp (edge 5, corner 3 candidates; k_num <= 3)",
  patch_weight: 'weight λ of the patch-level loss',
  momentum_teacher: 'EMA momentum of the teacher at the start (cosine to 1)',
  warmup_teacher_temp: 'teacher temperature at the start of its warm-up',
  teacher_temp: 'teacher temperature after the warm-up',
  warmup_teacher_temp_epochs: 'epochs of teacher-temperature warm-up',
  contrast_num_negative: 'MoBY queue length (a multiple of batch_size)',
  contrast_momentum: 'MoBY target momentum at the start (cosine to 1)',
  contrast_temperature: 'MoBY contrastive temperature',
  proj_num_layers: 'MoBY projector layers',
  pred_num_layers: 'MoBY predictor layers',
  moby_inner_dim: 'MoBY projector/predictor hidden width',
  moby_out_dim: 'MoBY projector/predictor output width',
  global_crop_size: 'global crop side in pixels (MoBY: the view size)',
  local_crop_size: 'local crop side in pixels',
  local_crops_number: 'local crops per image (0: none)',
  global_crops_scale: 'RandomResizedCrop area range of global crops, [min, max]',
  local_crops_scale: 'RandomResizedCrop area range of local crops, [min, max]',
  batch_size: 'images per optimizer step (the global batch)',
  epochs: 'epochs of the schedules',
  lr: 'peak learning rate per lr_batch_ref images (scaled linearly by batch_size)',
  lr_batch_ref: 'batch size lr refers to (256 for DINO, 512 for MoBY)',
  min_lr: 'final learning rate of the cosine schedule',
  warmup_lr: 'learning rate at the start of the warm-up',
  warmup_epochs: 'epochs of linear learning-rate warm-up',
  weight_decay: 'weight decay at the start (cosine to weight_decay_end)',
  weight_decay_end: 'weight decay at the end',
  clip_grad: 'gradient clipping threshold (0 disables)',
  freeze_last_layer: 'epochs during which the heads\' last layer is not updated',
  micro_batch: 'images per taped student graph, bounds memory without changing the step (null: a whole crop group)',
  max_steps: 'stop after this many steps (null: the whole schedule)',
  save_every: 'steps between checkpoints',
  keep_last: 'checkpoints kept on disk',
  log_every: 'steps between log lines when stderr is not a terminal',
  num_workers: 'data-loader worker threads (null: one per spare core)',
  backend: 'auto | tensorflow | webgpu | wasm | cpu',
  threads: 'XNNPACK threads on wasm, 1-8 (opt-in; slower when the other cores are busy)',
};

/** Values of every key a preset does not set: SelfPatch's argparse defaults and the run-control defaults (docs/selfpatch.md §7). */
const BASE: TrainConfig = {
  arch: 'vit_small',
  method: 'dino+selfpatch',
  data: '',
  out: 'runs/train',
  seed: 0,
  patch_size: 16,
  embed_dim: null,
  depth: null,
  num_heads: null,
  swin_depths: null,
  swin_num_heads: null,
  window_size: 7,
  drop_path_rate: 0.1,
  out_dim: 65536,
  out_dim_selfpatch: 4096,
  hidden_dim: 2048,
  bottleneck_dim: 256,
  norm_last_layer: true,
  use_bn_in_head: false,
  k_num: 4,
  patch_border: 'torus',
  patch_weight: 0.1,
  momentum_teacher: 0.996,
  warmup_teacher_temp: 0.04,
  teacher_temp: 0.04,
  warmup_teacher_temp_epochs: 0,
  contrast_num_negative: 4096,
  contrast_momentum: 0.99,
  contrast_temperature: 0.2,
  proj_num_layers: 2,
  pred_num_layers: 2,
  moby_inner_dim: 4096,
  moby_out_dim: 256,
  global_crop_size: 224,
  local_crop_size: 96,
  local_crops_number: 8,
  global_crops_scale: [0.25, 1],
  local_crops_scale: [0.05, 0.25],
  batch_size: 64,
  epochs: 300,
  lr: 0.0005,
  lr_batch_ref: 256,
  min_lr: 1e-6,
  warmup_lr: 0,
  warmup_epochs: 10,
  weight_decay: 0.04,
  weight_decay_end: 0.4,
  clip_grad: 3.0,
  freeze_last_layer: 1,
  micro_batch: null,
  max_steps: null,
  save_every: 500,
  keep_last: 3,
  log_every: 10,
  num_workers: null,
  backend: 'auto',
  threads: 1,
};

export { DEFAULT_PRESET, PRESETS } from './presets.js';

function keyOf(path: readonly PropertyKey[]): string {
  return path.length ? path.map(String).join('.') : '<config>';
}

/** Validates a full config; the first problem becomes a {@link ConfigError} naming its key. */
export function validateConfig(raw: unknown, source = 'config'): TrainConfig {
  const res = trainConfigSchema.safeParse(raw);
  if (res.success) return res.data;
  const problems = res.error.issues.map((i) => {
    if (i.code === 'unrecognized_keys') return `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `'${k}'`).join(', ')} (${source})`;
    return `${keyOf(i.path)}: ${i.message} (${source})`;
  });
  const first = res.error.issues[0];
  const key = first?.code === 'unrecognized_keys' ? (first.keys[0] ?? '<config>') : keyOf(first?.path ?? []);
  throw new ConfigError(key, problems.join('; '));
}

/** Reads a JSON or YAML config file (a partial config: missing keys come from the preset). */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('--config', `cannot read ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError('--config', `${path} is not valid ${extname(path).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigError('--config', `${path} must hold a mapping of config keys`);
  return parsed as Record<string, unknown>;
}

/**
 * Parses `key=value` overrides: the value is read as YAML (so `0.1`, `true`, `[0.4, 1]`, `null`
 * work), and the key must exist in the schema.
 */
export function parseOverrides(items: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const known = new Set(Object.keys(BASE));
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ConfigError('--set', `expected key=value, got '${item}'`);
    const key = item.slice(0, eq).trim().replaceAll('-', '_');
    if (!known.has(key)) throw new ConfigError(key, `unknown config key in --set ${item}`);
    out[key] = parseYaml(item.slice(eq + 1));
  }
  return out;
}

/** preset ← file ← overrides, then validation. */
export function resolveConfig(preset: string, ...layers: Array<Record<string, unknown>>): TrainConfig {
  const p = presetConfig(preset);
  if (!p) throw new ConfigError('--preset', `unknown preset '${preset}'; choose one of ${Object.keys(PRESETS).join(', ')}`);
  const merged: Record<string, unknown> = { ...BASE, ...p };
  for (const l of layers) Object.assign(merged, l);
  return validateConfig(merged, `preset ${preset}`);
}

/** Keys a resumed run may change; everything else must match the checkpoint. */
export const RESUME_MUTABLE: ReadonlySet<keyof TrainConfig> = new Set(['max_steps', 'save_every', 'keep_last', 'log_every', 'num_workers', 'backend', 'threads', 'out', 'data', 'micro_batch']);
