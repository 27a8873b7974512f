import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@selfpatch/nn';
import { PRESETS, parseOverrides, readConfigFile, resolveConfig } from '../src/config.js';
import { tmp } from './helpers.js';

function rejects(fn: () => unknown, key: string, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.option, key);
    assert.match(err.message, pattern);
    return true;
  });
}

test('every preset validates, and the paper presets carry the official defaults', () => {
  for (const name of Object.keys(PRESETS)) resolveConfig(name);
  const sp = resolveConfig('vit_small_dino+selfpatch');
  assert.equal(sp.out_dim, 65536);
  assert.equal(sp.out_dim_selfpatch, 4096);
  assert.equal(sp.k_num, 4);
  assert.equal(sp.local_crops_number, 8);
  assert.deepEqual(sp.global_crops_scale, [0.25, 1]);
  assert.equal(sp.clip_grad, 3);
  const moby = resolveConfig('swin_tiny_moby');
  assert.equal(moby.lr_batch_ref, 512);
  assert.equal(moby.weight_decay, 0.05);
  assert.equal(moby.clip_grad, 5);
});

test('unknown keys, out-of-range values and incompatible combinations are ConfigErrors naming the key', () => {
  rejects(() => resolveConfig('demo', { batch_sise: 4 }), 'batch_sise', /unknown key 'batch_sise'/);
  rejects(() => resolveConfig('demo', { lr: -1 }), 'lr', /lr: .*(>0|positive|greater)/i);
  rejects(() => resolveConfig('demo', { momentum_teacher: 1.5 }), 'momentum_teacher', /momentum_teacher/);
  rejects(() => resolveConfig('demo', { global_crops_scale: [0.9, 0.2] }), 'global_crops_scale', /min <= max/);
  rejects(() => resolveConfig('demo', { arch: 'swin_tiny' }), 'method', /needs a ViT arch/);
  rejects(() => resolveConfig('demo', { method: 'moby+selfpatch' }), 'arch', /needs swin_tiny/);
  rejects(() => resolveConfig('demo', { global_crop_size: 100 }), 'global_crop_size', /multiple of patch_size/);
  rejects(() => resolveConfig('demo', { local_crop_size: 32 }), 'local_crop_size', /2×2 patch grid/);
  rejects(() => resolveConfig('demo', { warmup_epochs: 100 }), 'warmup_epochs', /exceeds epochs/);
  rejects(() => resolveConfig('swin_tiny_moby', { contrast_num_negative: 100 }), 'contrast_num_negative', /multiple of batch_size/);
  rejects(() => resolveConfig('nope'), '--preset', /unknown preset 'nope'/);
});

test('config files (YAML and JSON) and key=value overrides layer over the preset', () => {
  const dir = tmp('cfg');
  const yml = join(dir, 'c.yaml');
  writeFileSync(yml, 'batch_size: 8\nlocal_crops_scale: [0.1, 0.3]\n');
  const json = join(dir, 'c.json');
  writeFileSync(json, '{"epochs": 7}');
  const c = resolveConfig('demo', readConfigFile(yml), readConfigFile(json), parseOverrides(['lr=0.001', 'norm-last-layer=false']));
  assert.equal(c.batch_size, 8);
  assert.deepEqual(c.local_crops_scale, [0.1, 0.3]);
  assert.equal(c.epochs, 7);
  assert.equal(c.lr, 0.001);
  assert.equal(c.norm_last_layer, false);
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'batch_size: [oops\n');
  rejects(() => readConfigFile(bad), '--config', /bad\.yaml is not valid YAML/);
  rejects(() => readConfigFile(join(dir, 'missing.yaml')), '--config', /cannot read/);
  rejects(() => parseOverrides(['nope=1']), 'nope', /unknown config key/);
  rejects(() => parseOverrides(['lr']), '--set', /key=value/);
});
