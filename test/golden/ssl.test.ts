/**
 * Golden parity of the SSL objective and training step: schedules, DINO+SelfPatch
 * loss (values, centers, gradients), the wrapper's head outputs, and two full training iterations
 * (`train_step`) in both modes of the golden README: optimizer-only (stored gradients in, atol
 * 2e-6) and end-to-end (forward, loss, backward, clip, freeze, AdamW, EMA, centers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW,
  DINOLoss,
  DINOTrainer,
  cancelLastLayerGradients,
  clipGradients,
  cosineSchedule,
  emaUpdate,
  paramGroups,
  scaledLr,
  teacherTempSchedule,
} from '@selfpatch/ssl';
import {
  compare,
  expectClose,
  loadFixture,
  selfPatchDinoFromManifest,
  TEST_BACKENDS,
  useBackend,
  type Fixture,
  type ManifestSelfPatch,
  type Tolerance,
} from '../harness/index.js';

/** Splits a crop-major `[n·B, ...]` tensor into n tensors of B rows. */
function splitCrops(t: tf.Tensor, b: number): tf.Tensor[] {
  return tf.split(t, (t.shape[0] as number) / b, 0);
}

test('schedules: cosine lr/wd/momentum and teacher temperature equal the reference float64 values', (t) => {
  const fx = loadFixture(t, 'schedules');
  if (!fx) return;
  const c = fx.config as {
    lr: number; bs: number; bs2: number; min_lr: number; epochs: number; niter: number; warmup: number;
    start_warmup_value: number; wd: number; wd_end: number; mom: number;
    temp_default: [number, number, number, number]; temp_warm: [number, number, number, number];
  };
  const f64 = fx.manifest.values_f64 as Record<string, number[]>;
  const [tdw, tdt, tde, tdn] = c.temp_default;
  const [tww, twt, twe, twn] = c.temp_warm;
  const ours: Record<string, Float64Array> = {
    lr: cosineSchedule(scaledLr(c.lr, c.bs), c.min_lr, c.epochs, c.niter, c.warmup),
    lr_small_batch: cosineSchedule(scaledLr(c.lr, c.bs2), c.min_lr, c.epochs, c.niter, c.warmup),
    lr_start_warmup_value: cosineSchedule(scaledLr(c.lr, c.bs), c.min_lr, c.epochs, c.niter, c.warmup, c.start_warmup_value),
    wd: cosineSchedule(c.wd, c.wd_end, c.epochs, c.niter),
    momentum: cosineSchedule(c.mom, 1, c.epochs, c.niter),
    teacher_temp_default: teacherTempSchedule(tdw, tdt, tde, tdn),
    teacher_temp_warm: teacherTempSchedule(tww, twt, twe, twn),
  };
  for (const [name, values] of Object.entries(ours)) {
    const exp = f64[name] as number[];
    assert.ok(exp, `values_f64 has no '${name}'`);
    const r = compare(values, exp, { atol: 0, rtol: 1e-12 });
    assert.ok(r.ok, `${name}: ${r.message}`);
    expectClose(fx, `output.${name}`, Float32Array.from(values));
  }
});

for (const backend of TEST_BACKENDS) {
  test(`[${backend}] dino_loss: loss terms, centers and gradients for every case`, async (t) => {
    const fx = loadFixture(t, 'dino_loss');
    if (!fx) return;
    await useBackend(backend);
    const c = fx.config as { ncrops: number; batch: number; out_dim: number; out_dim_selfpatch: number; student_temp: number; center_momentum: number; patch_loss_weight: number; cases: Record<string, { teacher_temp_schedule_args: { warmup_teacher_temp: number; teacher_temp: number; warmup_teacher_temp_epochs: number; nepochs: number }; epoch: number }> };
    const names = ['student_c_global', 'student_p_global', 'student_c_local', 'student_p_local'];
    for (const [caseName, cs] of Object.entries(c.cases)) {
      const a = cs.teacher_temp_schedule_args;
      const loss = new DINOLoss({
        outDim: c.out_dim,
        patchOutDim: c.out_dim_selfpatch,
        ncrops: c.ncrops,
        warmupTeacherTemp: a.warmup_teacher_temp,
        teacherTemp: a.teacher_temp,
        warmupTeacherTempEpochs: a.warmup_teacher_temp_epochs,
        nepochs: a.nepochs,
        studentTemp: c.student_temp,
        centerMomentum: c.center_momentum,
        patchWeight: c.patch_loss_weight,
      });
      loss.setCenters(fx.tensor(`${caseName}.center_before`), fx.tensor(`${caseName}.patch_center_before`));
      const teacher = {
        cls: [...splitCrops(fx.tensor('input.teacher_c_global'), c.batch), ...splitCrops(fx.tensor('input.teacher_c_local'), c.batch)],
        patch: [...splitCrops(fx.tensor('input.teacher_p_global'), c.batch), ...splitCrops(fx.tensor('input.teacher_p_local'), c.batch)],
      };
      const inputs = names.map((n) => fx.tensor(`input.${n}`));
      const f = (sc: tf.Tensor, sp: tf.Tensor, lc: tf.Tensor, lp: tf.Tensor) =>
        loss.forward([...splitCrops(sc, c.batch), ...splitCrops(lc, c.batch)], [...splitCrops(sp, c.batch), ...splitCrops(lp, c.batch)], teacher.cls, teacher.patch, cs.epoch);
      const out = f(...(inputs as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]));
      expectClose(fx, `${caseName}.loss`, [out.loss.dataSync()[0] as number], ` (${caseName})`);
      expectClose(fx, `${caseName}.c_loss`, [out.cls.dataSync()[0] as number]);
      expectClose(fx, `${caseName}.p_loss`, [out.patch.dataSync()[0] as number]);
      const grads = tf.grads((a0: tf.Tensor, a1: tf.Tensor, a2: tf.Tensor, a3: tf.Tensor) => f(a0, a1, a2, a3).loss)(inputs);
      names.forEach((n, i) => expectClose(fx, `${caseName}.grad.${n}`, grads[i] as tf.Tensor));
      loss.updateCenter(teacher.cls, teacher.patch);
      expectClose(fx, `${caseName}.center_after`, loss.center);
      expectClose(fx, `${caseName}.patch_center_after`, loss.patchCenter);
      tf.dispose([out.loss, out.cls, out.patch, ...grads, ...inputs, ...teacher.cls, ...teacher.patch]);
      loss.dispose();
    }
  });

  test(`[${backend}] selfpatch_forward: wrapper heads (c_head on token 0, p_head on patches) for loc=true/false`, async (t) => {
    const fx = loadFixture(t, 'selfpatch_forward');
    if (!fx) return;
    await useBackend(backend);
    const net = selfPatchDinoFromManifest(fx.config as unknown as ManifestSelfPatch);
    net.loadStateDict(fx.weights(), { context: 'selfpatch_forward' });
    net.eval();
    for (const input of fx.names('input.').filter((n) => n.endsWith('_crops'))) {
      const s = input.slice('input.'.length).replace(/_crops$/, '');
      tf.tidy(() => {
        const x = fx.tensor(input) as tf.Tensor4D;
        for (const [who, loc] of [['teacher', true], ['student', false]] as const) {
          const o = net.forward(x, loc);
          expectClose(fx, `output.${who}_c_${s}`, o.cls);
          expectClose(fx, `output.${who}_p_${s}`, o.patch);
        }
      });
    }
    net.dispose();
  });
}

// ---- train_step --------------------------------------------------------------------------------

interface StepInfo {
  iteration: number;
  epoch: number;
  lr: number;
  grad_norm_names: string[];
}

interface TrainCfg extends ManifestSelfPatch {
  batch: number;
  lr_schedule: { base_lr: number; global_batch_for_scaling: number; min_lr: number; epochs: number; niter_per_ep: number; warmup_epochs: number };
  wd_schedule: { start: number; end: number };
  momentum_schedule: { start: number; end: number };
  teacher_temp: { warmup_teacher_temp: number; teacher_temp: number; warmup_teacher_temp_epochs: number; nepochs: number };
  student_temp: number;
  center_momentum: number;
  patch_loss_weight: number;
  clip_grad: number;
  freeze_last_layer: number;
  n_global_crops: number;
  n_local_crops: number;
}

function zeroGradSlices(fx: Fixture): Record<string, [number, number]> {
  const z = fx.manifest.zero_true_gradient_elements as { slices: Record<string, [number, number]> } | undefined;
  return z?.slices ?? {};
}

/**
 * Compares a parameter-shaped tensor; inside a zero-true-gradient slice the elements are skipped
 * (gradients, Adam moments) or compared with atol 2·lr (parameters after the update).
 */
function expectParamClose(fx: Fixture, name: string, param: string, actual: tf.Tensor, lr: number, mode: 'skip' | 'lr', tolOverride?: Tolerance): void {
  const slice = zeroGradSlices(fx)[param];
  const exp = fx.get(name).data as Float32Array;
  const act = actual.dataSync();
  const tol = tolOverride ?? fx.tolerance(name);
  if (!slice) {
    const r = compare(act, exp, tol);
    assert.ok(r.ok, `${name}: ${r.message}`);
    return;
  }
  const [a, b] = slice;
  const outside = (arr: ArrayLike<number>) => Float32Array.from([...Array.from(arr).slice(0, a), ...Array.from(arr).slice(b)]);
  const r = compare(outside(act), outside(exp), tol);
  assert.ok(r.ok, `${name} (outside the zero-gradient slice): ${r.message}`);
  if (mode === 'lr') {
    const rs = compare(Array.from(act).slice(a, b), Array.from(exp).slice(a, b), { atol: 2 * lr, rtol: 0 });
    assert.ok(rs.ok, `${name} (zero-gradient slice, atol 2·lr): ${rs.message}`);
  }
}

function buildTrainer(fx: Fixture) {
  const cfg = fx.config as unknown as TrainCfg;
  const student = selfPatchDinoFromManifest(cfg);
  const teacher = selfPatchDinoFromManifest(cfg, true);
  const before: Record<string, tf.Tensor> = {};
  for (const name of fx.names('student_before.')) before[name.slice('student_before.'.length)] = fx.tensor(name);
  student.loadStateDict(before, { context: 'train_step student_before' });
  teacher.loadStateDict(before, { context: 'train_step teacher (copy of the student)' });
  tf.dispose(Object.values(before));
  const ls = cfg.lr_schedule;
  const schedules = {
    lr: cosineSchedule(scaledLr(ls.base_lr, ls.global_batch_for_scaling), ls.min_lr, ls.epochs, ls.niter_per_ep, ls.warmup_epochs),
    wd: cosineSchedule(cfg.wd_schedule.start, cfg.wd_schedule.end, ls.epochs, ls.niter_per_ep),
    momentum: cosineSchedule(cfg.momentum_schedule.start, cfg.momentum_schedule.end, ls.epochs, ls.niter_per_ep),
  };
  const loss = new DINOLoss({
    outDim: cfg.c_head.out_dim,
    patchOutDim: cfg.p_head.out_dim,
    ncrops: cfg.n_global_crops + cfg.n_local_crops,
    nGlobalCrops: cfg.n_global_crops,
    warmupTeacherTemp: cfg.teacher_temp.warmup_teacher_temp,
    teacherTemp: cfg.teacher_temp.teacher_temp,
    warmupTeacherTempEpochs: cfg.teacher_temp.warmup_teacher_temp_epochs,
    nepochs: cfg.teacher_temp.nepochs,
    studentTemp: cfg.student_temp,
    centerMomentum: cfg.center_momentum,
    patchWeight: cfg.patch_loss_weight,
  });
  return { cfg, student, teacher, loss, schedules };
}

for (const backend of TEST_BACKENDS) {
  test(`[${backend}] train_step optimizer-only: stored gradients → clip → cancel → AdamW → EMA (atol 2e-6)`, async (t) => {
    const fx = loadFixture(t, 'train_step');
    if (!fx) return;
    await useBackend(backend);
    const { cfg, student, teacher, loss, schedules } = buildTrainer(fx);
    const steps = fx.manifest.steps as StepInfo[];
    const opt = new AdamW();
    const groups = paramGroups(student.namedParameters());
    const tight: Tolerance = { atol: 2e-6, rtol: 1e-6 };
    steps.forEach((st, s) => {
      const epoch = Math.floor(st.iteration / cfg.lr_schedule.niter_per_ep);
      const grads = new Map<string, tf.Tensor | null>();
      for (const [name] of student.namedParameters()) {
        grads.set(name, fx.has(`step${s}.grad.${name}`) ? tf.keep(fx.tensor(`step${s}.grad.${name}`)) : null);
      }
      const norms = clipGradients(grads, cfg.clip_grad);
      expectClose(fx, `step${s}.grad_norms`, st.grad_norm_names.map((n) => norms.get(n) as number));
      cancelLastLayerGradients(grads, epoch, cfg.freeze_last_layer);
      opt.step([{ params: groups.regularized, lr: schedules.lr[st.iteration] as number, weightDecay: schedules.wd[st.iteration] as number }, { params: groups.notRegularized, lr: schedules.lr[st.iteration] as number, weightDecay: 0 }], grads);
      emaUpdate(teacher, student, schedules.momentum[st.iteration] as number);
      for (const [name, v] of student.namedParameters()) {
        expectParamClose(fx, `step${s}.student_after.${name}`, name, v, 0, 'skip', tight);
        const st2 = opt.state.get(name);
        if (fx.has(`step${s}.adam_exp_avg.${name}`)) {
          assert.ok(st2, `no Adam state for ${name}`);
          expectParamClose(fx, `step${s}.adam_exp_avg.${name}`, name, st2.expAvg, 0, 'skip', tight);
          expectParamClose(fx, `step${s}.adam_exp_avg_sq.${name}`, name, st2.expAvgSq, 0, 'skip', tight);
        } else {
          assert.equal(st2, undefined, `${name} should have no Adam state after step ${s}`);
        }
      }
      for (const [name, v] of teacher.namedParameters()) expectParamClose(fx, `step${s}.teacher_after.${name}`, name, v, 0, 'skip', tight);
      tf.dispose([...grads.values()].filter((g): g is tf.Tensor => g !== null));
    });
    // The frozen last layer's Adam step count lags by one (it had no gradient in epoch 0).
    const counts = (fx.manifest.steps as Array<{ adam_step_counts_after?: Record<string, number> }>)[steps.length - 1]?.adam_step_counts_after ?? {};
    for (const [name, count] of Object.entries(counts)) assert.equal(opt.state.get(name)?.step, count, `Adam step count of ${name}`);
    opt.dispose();
    loss.dispose();
    student.dispose();
    teacher.dispose();
  });

  test(`[${backend}] train_step end-to-end: two iterations with the DINOTrainer match every stored tensor`, async (t) => {
    const fx = loadFixture(t, 'train_step');
    if (!fx) return;
    await useBackend(backend);
    const { cfg, student, teacher, loss, schedules } = buildTrainer(fx);
    loss.setCenters(fx.tensor('center_before'), fx.tensor('patch_center_before'));
    const trainer = new DINOTrainer({ student, teacher, loss, schedules, niterPerEpoch: cfg.lr_schedule.niter_per_ep, clipGrad: cfg.clip_grad, freezeLastLayer: cfg.freeze_last_layer });
    const steps = fx.manifest.steps as StepInfo[];
    steps.forEach((st, s) => {
      const crops = [
        ...splitCrops(fx.tensor(`step${s}.input.global_crops`), cfg.batch),
        ...splitCrops(fx.tensor(`step${s}.input.local_crops`), cfg.batch),
      ] as tf.Tensor4D[];
      const lr = schedules.lr[st.iteration] as number;
      const res = trainer.step(crops, st.iteration, {
        onGradients: (grads) => {
          for (const [name, g] of grads) if (g && fx.has(`step${s}.grad.${name}`)) expectParamClose(fx, `step${s}.grad.${name}`, name, g, lr, 'skip');
        },
      });
      expectClose(fx, `step${s}.loss`, [res.loss]);
      expectClose(fx, `step${s}.c_loss`, [res.clsLoss]);
      expectClose(fx, `step${s}.p_loss`, [res.patchLoss]);
      expectClose(fx, `step${s}.grad_norms`, st.grad_norm_names.map((n) => res.gradNorms.get(n) as number));
      for (const [name, v] of student.namedParameters()) expectParamClose(fx, `step${s}.student_after.${name}`, name, v, lr, 'lr');
      for (const [name, v] of teacher.namedParameters()) expectParamClose(fx, `step${s}.teacher_after.${name}`, name, v, lr, 'lr');
      for (const [name, st2] of trainer.optimizer.state) {
        expectParamClose(fx, `step${s}.adam_exp_avg.${name}`, name, st2.expAvg, lr, 'skip');
        expectParamClose(fx, `step${s}.adam_exp_avg_sq.${name}`, name, st2.expAvgSq, lr, 'skip');
      }
      expectClose(fx, `step${s}.center_after`, loss.center);
      expectClose(fx, `step${s}.patch_center_after`, loss.patchCenter);
      tf.dispose(crops);
    });
    trainer.optimizer.dispose();
    loss.dispose();
    student.dispose();
    teacher.dispose();
  });
}
