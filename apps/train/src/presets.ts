/**
 * Named presets, each value with its source: the official repositories at the commits the golden
 * fixtures were made from (docs/golden-fixtures.md), by file. A preset states the recipe's *global*
 * batch (all GPUs of the official command); a run with fewer images per step either keeps it (the
 * student runs in `micro_batch` chunks, so memory stays bounded and the step is unchanged) or
 * lowers `batch_size`, which scales the learning rate by the same linear rule and is reported as a
 * change of recipe (recipe-notes.ts).
 *
 *   SelfPatch  https://github.com/alinlab/SelfPatch/tree/81aef149fa984a32bdbb2cf5a98aa0e072591535
 *   DINO       https://github.com/facebookresearch/dino/tree/7c446df5b9f45747937fb0d72314eb9f7b66930a
 *   MoBY       https://github.com/SwinTransformer/Transformer-SSL/tree/4510de1f21ee6f9810a74494c254081dd8f2c383
 */
import type { TrainConfig } from './config.js';

/** A preset value and where it comes from (`file: what`, or why it is ours). */
export type Sourced<T> = readonly [value: T, source: string];
export type PresetValues = { [K in keyof TrainConfig]?: Sourced<TrainConfig[K]> };

export interface Preset {
  /** One line: what it trains and whose recipe it is. */
  summary: string;
  /** `official`: a published command/config as is; `adapted`: one stated change to one; `ours`: not from a paper. */
  kind: 'official' | 'adapted' | 'ours';
  values: PresetValues;
  /** Training images the schedule was written for (default: ImageNet-1k train). */
  images?: number;
}

const SP = 'SelfPatch@81aef14';
const SP_ARG = `${SP} main_selfpatch.py argparse default`;
const SP_CMD = `${SP} README.md pre-training command (8 GPUs)`;
const SP_CODE = `${SP} main_selfpatch.py`;
const SP_HEAD = `${SP} utils.py DINOHead default`;
const DINO = 'dino@7c446df';
const DINO_ARG = `${DINO} main_dino.py argparse default`;
const DINO_CMD = `${DINO} README.md single-node command (8 GPUs × batch_size_per_gpu 64)`;
const DINO_BOOST = `${DINO} README.md "Boosting DINO performance" full command`;
const MOBY = 'Transformer-SSL@4510de1';
const MOBY_YAML = `${MOBY} configs/moby_swin_tiny.yaml`;
const MOBY_CFG = `${MOBY} config.py default`;
const MOBY_CMD = `${MOBY} get_started.md command (8 GPUs × --batch-size 64)`;
const MOBY_MODEL = `${MOBY} models/moby.py MoBYMLP default`;

/** SelfPatch's ViT-S/16 command with the argparse defaults it relies on. */
const SELFPATCH_VIT_S: PresetValues = {
  arch: ['vit_small', SP_CMD],
  method: ['dino+selfpatch', SP_CMD],
  patch_size: [16, SP_CMD],
  drop_path_rate: [0.1, `${SP_CODE} (hard-coded in the student backbone)`],
  out_dim: [65536, SP_ARG],
  out_dim_selfpatch: [4096, SP_CMD],
  hidden_dim: [2048, SP_HEAD],
  bottleneck_dim: [256, SP_HEAD],
  norm_last_layer: [true, SP_ARG],
  use_bn_in_head: [false, SP_ARG],
  k_num: [4, SP_CMD],
  patch_weight: [0.1, `${SP_CODE} (hard-coded p_loss*0.1 in the loss)`],
  momentum_teacher: [0.996, SP_ARG],
  warmup_teacher_temp: [0.04, SP_ARG],
  teacher_temp: [0.04, SP_ARG],
  warmup_teacher_temp_epochs: [0, SP_ARG],
  global_crop_size: [224, `${SP_CODE} DataAugmentationDINO`],
  local_crop_size: [96, `${SP_CODE} DataAugmentationDINO`],
  local_crops_number: [8, SP_CMD],
  global_crops_scale: [[0.25, 1], SP_ARG],
  local_crops_scale: [[0.05, 0.25], SP_ARG],
  batch_size: [1024, `${SP_CMD}: 8 × --batch_size_per_gpu 128`],
  epochs: [300, SP_ARG],
  lr: [0.0005, SP_ARG],
  lr_batch_ref: [256, `${SP_CODE} linear scaling rule lr·batch/256`],
  min_lr: [1e-6, SP_ARG],
  warmup_lr: [0, `${SP} utils.py cosine_scheduler start_warmup_value default`],
  warmup_epochs: [10, SP_ARG],
  weight_decay: [0.04, SP_ARG],
  weight_decay_end: [0.4, SP_ARG],
  clip_grad: [3.0, SP_ARG],
  freeze_last_layer: [1, SP_ARG],
};

/** DINO's ViT-S/16 single-node command with the argparse defaults it relies on (100 epochs). */
const DINO_VIT_S: PresetValues = {
  arch: ['vit_small', DINO_CMD],
  method: ['dino', DINO_CMD],
  patch_size: [16, DINO_ARG],
  drop_path_rate: [0.1, DINO_ARG],
  out_dim: [65536, DINO_ARG],
  hidden_dim: [2048, `${DINO} vision_transformer.py DINOHead default`],
  bottleneck_dim: [256, `${DINO} vision_transformer.py DINOHead default`],
  norm_last_layer: [true, DINO_ARG],
  use_bn_in_head: [false, DINO_ARG],
  momentum_teacher: [0.996, DINO_ARG],
  warmup_teacher_temp: [0.04, DINO_ARG],
  teacher_temp: [0.04, DINO_ARG],
  warmup_teacher_temp_epochs: [0, DINO_ARG],
  global_crop_size: [224, `${DINO} main_dino.py DataAugmentationDINO`],
  local_crop_size: [96, `${DINO} main_dino.py DataAugmentationDINO`],
  local_crops_number: [8, DINO_ARG],
  global_crops_scale: [[0.4, 1], DINO_ARG],
  local_crops_scale: [[0.05, 0.4], DINO_ARG],
  batch_size: [512, DINO_CMD],
  epochs: [100, DINO_ARG],
  lr: [0.0005, DINO_ARG],
  lr_batch_ref: [256, `${DINO} main_dino.py linear scaling rule lr·batch/256`],
  min_lr: [1e-6, DINO_ARG],
  warmup_lr: [0, `${DINO} utils.py cosine_scheduler start_warmup_value default`],
  warmup_epochs: [10, DINO_ARG],
  weight_decay: [0.04, DINO_ARG],
  weight_decay_end: [0.4, DINO_ARG],
  clip_grad: [3.0, DINO_ARG],
  freeze_last_layer: [1, DINO_ARG],
};

/** MoBY on Swin-T: moby_swin_tiny.yaml over config.py's defaults, with the README's 8-GPU batch. */
const MOBY_SWIN_T: PresetValues = {
  arch: ['swin_tiny', MOBY_YAML],
  method: ['moby', MOBY_YAML],
  window_size: [7, MOBY_YAML],
  drop_path_rate: [0.2, `${MOBY_YAML} ONLINE_DROP_PATH_RATE`],
  contrast_num_negative: [4096, MOBY_YAML],
  contrast_momentum: [0.99, MOBY_YAML],
  contrast_temperature: [0.2, MOBY_YAML],
  proj_num_layers: [2, MOBY_YAML],
  pred_num_layers: [2, MOBY_YAML],
  moby_inner_dim: [4096, MOBY_MODEL],
  moby_out_dim: [256, MOBY_MODEL],
  global_crop_size: [224, `${MOBY_CFG} DATA.IMG_SIZE`],
  local_crops_number: [0, `${MOBY} data/build.py (two views, no local crops)`],
  batch_size: [512, MOBY_CMD],
  epochs: [300, MOBY_YAML],
  lr: [0.001, `${MOBY_YAML} BASE_LR`],
  lr_batch_ref: [512, `${MOBY} moby_main.py linear scaling rule lr·batch/512 (also warm-up and min lr)`],
  min_lr: [5e-6, `${MOBY_CFG} TRAIN.MIN_LR`],
  warmup_lr: [5e-7, `${MOBY_CFG} TRAIN.WARMUP_LR`],
  warmup_epochs: [5, MOBY_YAML],
  weight_decay: [0.05, MOBY_YAML],
  weight_decay_end: [0.05, `${MOBY} (constant weight decay)`],
  clip_grad: [5.0, `${MOBY_CFG} TRAIN.CLIP_GRAD`],
};

const OURS = 'selfpatch-ts: not in any official code';
const SP_ON_MOBY = `${SP} ViT recipe value (the official code has no MoBY + SelfPatch; docs/swin-moby.md §3)`;

export const PRESETS: Readonly<Record<string, Preset>> = {
  'vit_small_dino+selfpatch': {
    summary: "SelfPatch's ViT-S/16 pre-training (the paper's recipe)",
    kind: 'official',
    values: SELFPATCH_VIT_S,
  },
  vit_small_selfpatch_baseline: {
    summary: "SelfPatch's ViT-S/16 recipe without the patch loss (DINO objective): isolates the patch term",
    kind: 'adapted',
    values: { ...SELFPATCH_VIT_S, method: ['dino', `${OURS} (SelfPatch's recipe with the patch term removed)`] },
  },
  vit_small_dino: {
    summary: "DINO's ViT-S/16 recipe, 100 epochs (the README's single-node run)",
    kind: 'official',
    values: DINO_VIT_S,
  },
  vit_small_dino_boosted: {
    summary: "DINO's ViT-S/16 300-epoch recipe (README: teacher temperature 0.07, no last-layer norm)",
    kind: 'official',
    values: {
      ...DINO_VIT_S,
      epochs: [300, DINO_BOOST],
      teacher_temp: [0.07, DINO_BOOST],
      warmup_teacher_temp_epochs: [30, DINO_BOOST],
      norm_last_layer: [false, DINO_BOOST],
      batch_size: [1024, `${DINO_BOOST} via run_with_submitit.py defaults (2 nodes × 8 GPUs × 64)`],
    },
  },
  'vit_tiny_dino+selfpatch': {
    summary: "SelfPatch's ViT-S/16 recipe on ViT-Ti/16 (main_selfpatch.py's default arch; no published run)",
    kind: 'adapted',
    values: { ...SELFPATCH_VIT_S, arch: ['vit_tiny', `${SP_ARG} (--arch deit_tiny)`] },
  },
  vit_tiny_dino: {
    summary: "DINO's ViT-S/16 recipe on ViT-Ti/16 (no published run)",
    kind: 'adapted',
    values: { ...DINO_VIT_S, arch: ['vit_tiny', `${OURS} (DINO's recipe, arch changed)`] },
  },
  swin_tiny_moby: {
    summary: "MoBY's Swin-T recipe, 300 epochs",
    kind: 'official',
    values: MOBY_SWIN_T,
  },
  'swin_tiny_moby+selfpatch': {
    summary: "MoBY's Swin-T recipe plus SelfPatch's patch loss on the last-stage 7×7 grid (the paper's Swin-T row; its code is not published)",
    kind: 'adapted',
    values: {
      ...MOBY_SWIN_T,
      method: ['moby+selfpatch', `${OURS} (the paper reports it; docs/swin-moby.md §3)`],
      out_dim_selfpatch: [4096, SP_ON_MOBY],
      hidden_dim: [2048, SP_ON_MOBY],
      bottleneck_dim: [256, SP_ON_MOBY],
      k_num: [4, SP_ON_MOBY],
      patch_weight: [0.1, SP_ON_MOBY],
      warmup_teacher_temp: [0.04, SP_ON_MOBY],
      teacher_temp: [0.04, SP_ON_MOBY],
      warmup_teacher_temp_epochs: [0, SP_ON_MOBY],
    },
  },
  /**
   * ViT-Ti/16 with SelfPatch on the 12 embedded demo photos, sized to finish in minutes on 2 cores:
   * 96 px global crops (6×6 patch grid) and 64 px local crops (4×4: the smallest grid on which a
   * patch's 3×3 neighbourhood is not the whole crop), small heads, 4 images per step.
   */
  demo: {
    summary: 'ViT-Ti/16 + SelfPatch on the 12 embedded photos in a few minutes (small crops and heads)',
    kind: 'ours',
    images: 12,
    values: {
      arch: ['vit_tiny', OURS],
      method: ['dino+selfpatch', OURS],
      global_crop_size: [96, `${OURS} (6×6 patch grid)`],
      local_crop_size: [64, `${OURS} (4×4 patch grid: a 3×3 neighbourhood is not the whole crop)`],
      local_crops_number: [2, OURS],
      out_dim: [4096, OURS],
      out_dim_selfpatch: [1024, OURS],
      hidden_dim: [512, OURS],
      bottleneck_dim: [128, OURS],
      batch_size: [4, OURS],
      epochs: [20, OURS],
      warmup_epochs: [2, OURS],
      lr: [0.02, OURS],
      save_every: [15, OURS],
      log_every: [1, OURS],
    },
  },
};

export const DEFAULT_PRESET = 'demo';

/** Where each preset writes without --out. */
const OUT: Record<string, string> = {
  'vit_small_dino+selfpatch': 'runs/vit_small_selfpatch',
  vit_small_selfpatch_baseline: 'runs/vit_small_selfpatch_baseline',
  vit_small_dino: 'runs/vit_small_dino',
  vit_small_dino_boosted: 'runs/vit_small_dino_boosted',
  'vit_tiny_dino+selfpatch': 'runs/vit_tiny_selfpatch',
  vit_tiny_dino: 'runs/vit_tiny_dino',
  swin_tiny_moby: 'runs/swin_tiny_moby',
  'swin_tiny_moby+selfpatch': 'runs/swin_tiny_moby_selfpatch',
  demo: 'runs/demo',
};

/** The preset's values as a partial config (its output folder included). */
export function presetConfig(name: string): Partial<TrainConfig> | undefined {
  const p = PRESETS[name];
  if (!p) return undefined;
  const out: Record<string, unknown> = { out: OUT[name] ?? `runs/${name}` };
  for (const [k, v] of Object.entries(p.values)) out[k] = (v as Sourced<unknown>)[0];
  return out as Partial<TrainConfig>;
}

/** ImageNet-1k training images: what the official schedules' steps per epoch are counted on. */
export const IMAGENET_TRAIN_IMAGES = 1_281_167;
