import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cosineSchedule, mobyLrSchedule } from '../src/index.js';

/**
 * The learning rate of every optimizer step of Transformer-SSL's moby_main.py (commit 4510de1):
 * its lr_scheduler.py builds timm's CosineLRScheduler and the loop calls
 * step_update(epoch·num_steps + idx) after optimizer.step(). Recorded by running that loop with
 * timm 1.0.29's CosineLRScheduler (the same formula as the 0.3.2 the repository pins, for
 * cycle_mul/t_mul 1, cycle_limit 1 and no warmup_prefix) and torch's AdamW, reading
 * param_groups[0]['lr'] at each step.
 */
const TIMM = [
  { base: 0.001, min: 5e-06, warmupLr: 5e-07, epochs: 3, niter: 4, warmupEpochs: 1,
    lr: [5e-07, 5e-07, 0.000250375, 0.0005002499999999999, 0.0007501249999999999, 0.00075125, 0.000631262474938504, 0.0005025, 0.000373737525061496, 0.0002537500000000001, 0.00015071437635969266, 7.165236161724174e-05] },
  { base: 0.002, min: 1e-05, warmupLr: 0.0, epochs: 2, niter: 5, warmupEpochs: 0,
    lr: [0.002, 0.002, 0.0019513012337136779, 0.0018099719094030727, 0.0015898463260310108, 0.0013124719094030728, 0.001005, 0.0006975280905969274, 0.0004201536739689894, 0.00020002809059692738] },
];

test("mobyLrSchedule equals the lr timm's CosineLRScheduler gives each step of MoBY's training loop", () => {
  for (const c of TIMM) {
    const ours = mobyLrSchedule(c.base, c.min, c.epochs, c.niter, c.warmupEpochs, c.warmupLr);
    assert.equal(ours.length, c.lr.length);
    c.lr.forEach((v, i) => assert.ok(Math.abs((ours[i] as number) - v) <= 1e-15 + 1e-12 * Math.abs(v), `step ${i}: ${ours[i]} vs ${v}`));
  }
});

test('the MoBY schedule differs from the DINO-style restart after warm-up (why MoBY has its own)', () => {
  const c = TIMM[0] as (typeof TIMM)[number];
  const dino = cosineSchedule(c.base, c.min, c.epochs, c.niter, c.warmupEpochs, c.warmupLr);
  const moby = mobyLrSchedule(c.base, c.min, c.epochs, c.niter, c.warmupEpochs, c.warmupLr);
  assert.ok(Math.abs((dino[6] as number) - (moby[6] as number)) > 1e-5, `mid-run ${dino[6]} vs ${moby[6]}`);
});
