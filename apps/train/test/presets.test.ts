import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PRESETS, resolveConfig, type TrainConfig } from '../src/config.js';

/**
 * The official values, written here from the sources and not from presets.ts, so an edit of a
 * preset cannot drift from them unnoticed. Global batch = GPUs × per-GPU batch of the command.
 */
const SELFPATCH = {
  origin: 'https://github.com/alinlab/SelfPatch/blob/81aef149fa984a32bdbb2cf5a98aa0e072591535: main_selfpatch.py (argparse, DataAugmentationDINO, loss), utils.py (DINOHead, cosine_scheduler), README.md (--nproc_per_node=8 --batch_size_per_gpu 128 --local_crops_number 8 --patch_size 16 --out_dim_selfpatch 4096 --k_num 4)',
  values: {
    arch: 'vit_small', method: 'dino+selfpatch', patch_size: 16, drop_path_rate: 0.1, out_dim: 65536, out_dim_selfpatch: 4096, hidden_dim: 2048, bottleneck_dim: 256,
    norm_last_layer: true, use_bn_in_head: false, k_num: 4, patch_weight: 0.1, momentum_teacher: 0.996, warmup_teacher_temp: 0.04, teacher_temp: 0.04,
    warmup_teacher_temp_epochs: 0, global_crop_size: 224, local_crop_size: 96, local_crops_number: 8, global_crops_scale: [0.25, 1], local_crops_scale: [0.05, 0.25],
    batch_size: 8 * 128, epochs: 300, lr: 0.0005, lr_batch_ref: 256, min_lr: 1e-6, warmup_lr: 0, warmup_epochs: 10, weight_decay: 0.04, weight_decay_end: 0.4,
    clip_grad: 3.0, freeze_last_layer: 1, patch_border: 'torus',
  } satisfies Partial<TrainConfig>,
};

const DINO = {
  origin: 'https://github.com/facebookresearch/dino/blob/7c446df5b9f45747937fb0d72314eb9f7b66930a: main_dino.py (argparse, DataAugmentationDINO), vision_transformer.py (DINOHead), README.md (--nproc_per_node=8 main_dino.py --arch vit_small; batch_size_per_gpu default 64)',
  values: {
    arch: 'vit_small', method: 'dino', patch_size: 16, drop_path_rate: 0.1, out_dim: 65536, hidden_dim: 2048, bottleneck_dim: 256, norm_last_layer: true,
    use_bn_in_head: false, momentum_teacher: 0.996, warmup_teacher_temp: 0.04, teacher_temp: 0.04, warmup_teacher_temp_epochs: 0, global_crop_size: 224,
    local_crop_size: 96, local_crops_number: 8, global_crops_scale: [0.4, 1], local_crops_scale: [0.05, 0.4], batch_size: 8 * 64, epochs: 100, lr: 0.0005,
    lr_batch_ref: 256, min_lr: 1e-6, warmup_lr: 0, warmup_epochs: 10, weight_decay: 0.04, weight_decay_end: 0.4, clip_grad: 3.0, freeze_last_layer: 1,
  } satisfies Partial<TrainConfig>,
};

/** README "Boosting DINO performance", full command: run_with_submitit.py (defaults --nodes 2 --ngpus 8). */
const DINO_BOOSTED = { ...DINO.values, epochs: 300, teacher_temp: 0.07, warmup_teacher_temp_epochs: 30, norm_last_layer: false, batch_size: 2 * 8 * 64 } satisfies Partial<TrainConfig>;

const MOBY = {
  origin: 'https://github.com/SwinTransformer/Transformer-SSL/blob/4510de1f21ee6f9810a74494c254081dd8f2c383: configs/moby_swin_tiny.yaml over config.py, models/moby.py (MoBYMLP), moby_main.py (lr·batch/512), get_started.md (--nproc_per_node 8 --batch-size 64)',
  values: {
    arch: 'swin_tiny', method: 'moby', window_size: 7, drop_path_rate: 0.2, contrast_num_negative: 4096, contrast_momentum: 0.99, contrast_temperature: 0.2,
    proj_num_layers: 2, pred_num_layers: 2, moby_inner_dim: 4096, moby_out_dim: 256, global_crop_size: 224, local_crops_number: 0, batch_size: 8 * 64,
    epochs: 300, lr: 0.001, lr_batch_ref: 512, min_lr: 5e-6, warmup_lr: 5e-7, warmup_epochs: 5, weight_decay: 0.05, weight_decay_end: 0.05, clip_grad: 5.0,
  } satisfies Partial<TrainConfig>,
};

function expectValues(preset: string, expected: Partial<TrainConfig>, origin: string): void {
  const c = resolveConfig(preset);
  for (const [k, v] of Object.entries(expected)) assert.deepEqual(c[k as keyof TrainConfig], v, `${preset}.${k} differs from ${origin}`);
}

test('the paper presets carry the official values (SelfPatch, DINO, DINO boosted, MoBY), global batch included', () => {
  expectValues('vit_small_dino+selfpatch', SELFPATCH.values, SELFPATCH.origin);
  expectValues('vit_small_selfpatch_baseline', { ...SELFPATCH.values, method: 'dino' }, SELFPATCH.origin);
  expectValues('vit_tiny_dino+selfpatch', { ...SELFPATCH.values, arch: 'vit_tiny' }, SELFPATCH.origin);
  expectValues('vit_small_dino', DINO.values, DINO.origin);
  expectValues('vit_tiny_dino', { ...DINO.values, arch: 'vit_tiny' }, DINO.origin);
  expectValues('vit_small_dino_boosted', DINO_BOOSTED, DINO.origin);
  expectValues('swin_tiny_moby', MOBY.values, MOBY.origin);
  // MoBY's recipe with SelfPatch's patch-term values on top.
  const patch = { out_dim_selfpatch: 4096, hidden_dim: 2048, bottleneck_dim: 256, k_num: 4, patch_weight: 0.1, warmup_teacher_temp: 0.04, teacher_temp: 0.04, warmup_teacher_temp_epochs: 0, patch_border: 'torus' } as const;
  expectValues('swin_tiny_moby+selfpatch', { ...MOBY.values, method: 'moby+selfpatch', ...patch }, `${MOBY.origin} + ${SELFPATCH.origin}`);
});

test('every preset value names its source; official and adapted presets cite a commit', () => {
  for (const [name, p] of Object.entries(PRESETS)) {
    for (const [k, [, source]] of Object.entries(p.values) as Array<[string, readonly [unknown, string]]>) {
      assert.ok(source.length > 10, `${name}.${k} has no source`);
      if (p.kind !== 'ours' && !/selfpatch-ts/.test(source)) assert.match(source, /@[0-9a-f]{7}/, `${name}.${k}: ${source}`);
    }
  }
});

test('the demo preset gives local crops a grid where matching means something (more than 3×3 patches)', () => {
  const c = resolveConfig('demo');
  assert.ok(c.local_crop_size / c.patch_size > 3, `${c.local_crop_size} px local crops with patch ${c.patch_size}`);
});

test('selfpatch-train presets prints global batch, peak lr, steps and the changes a --set makes to the recipe', () => {
  const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'main.ts');
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', main, 'presets', 'vit_small_dino+selfpatch', '--set', 'batch_size=64'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /global batch 64, peak lr 0\.000125, 20018 steps\/epoch on 1281167 images, 200180 warm-up steps/);
  assert.match(r.stdout, /batch_size 64 \(recipe 1024: .*\) \(the peak lr follows the linear scaling rule; the recipe's is 0\.002\)/);
  const all = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', main, 'presets'], { encoding: 'utf8' });
  assert.equal(all.status, 0, all.stderr);
  for (const name of Object.keys(PRESETS)) assert.match(all.stdout, new RegExp(`^${name.replace('+', '\\+')}( \\(default\\))?: `, 'm'));
  assert.match(all.stdout, /vit_small_dino\+selfpatch: .*\n {2}global batch 1024, peak lr 0\.002, 1251 steps\/epoch/);
});
