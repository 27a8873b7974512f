/**
 * The two training objectives behind one interface, so the loop, checkpoints and logging are
 * shared: DINO / DINO+SelfPatch through the ssl package's `Trainer` (docs/selfpatch.md §5), and
 * MoBY / MoBY+SelfPatch with AdamW, per-iteration cosine lr and norm clipping (docs/swin-moby.md
 * "Optimization").
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, rawToTensor, tensorToRaw, type Module, type RawTensor, type RngState } from '@selfpatch/nn';
import { SELFPATCH_MULTICROP, type RecipeSpec } from '@selfpatch/data';
import { AdamW, DINOLoss, MoBY, MoBYSelfPatch, SelfPatchDINO, Trainer, clipGradNorm, cosineSchedule, paramGroups, type ParamGroups } from '@selfpatch/ssl';
import { SwinTransformer, numFeatures, swinTiny, type SwinConfig } from '@selfpatch/swin';
import { exportVitStateDict, vitConfig, type VitArch, type VitConfig, VisionTransformer } from '@selfpatch/vit';
import type { TrainConfig } from './config.js';

/** One iteration's numbers (what the log and the report show). */
export interface StepMetrics {
  loss: number;
  /** Named loss terms (cls/patch for DINO, loss12/loss21/patch for MoBY). */
  terms: Record<string, number>;
  lr: number;
  weight_decay: number;
  momentum: number;
  teacher_temp?: number;
}

/** Tensors by name plus JSON-able extras: everything needed to continue exactly. */
export interface JobState {
  tensors: Record<string, RawTensor>;
  meta: { optimizerSteps: Record<string, number>; rng: RngState };
}

export interface TrainJob {
  readonly recipe: RecipeSpec;
  /** Runs iteration `it` on a batch (per crop `[B, 3, s, s]`). Throws on a non-finite loss. */
  step(crops: tf.Tensor4D[], it: number): StepMetrics;
  getState(): JobState;
  setState(s: JobState): void;
  /** The teacher (target) backbone with the official keys. */
  teacherBackbone(): Record<string, RawTensor>;
  /** Parameter count of the trained network. */
  readonly numParams: number;
  dispose(): void;
}

export interface JobContext {
  config: TrainConfig;
  /** Iterations per epoch (the loader's full batches). */
  niterPerEpoch: number;
}

function vitFor(c: TrainConfig, layout: 'selfpatch' | 'dino', dropPathRate: number): VitConfig {
  const over: Partial<VitConfig> = { patchSize: c.patch_size, imgSize: c.global_crop_size, dropPathRate, layout };
  if (c.embed_dim !== null) over.embedDim = c.embed_dim;
  if (c.depth !== null) over.depth = c.depth;
  if (c.num_heads !== null) over.numHeads = c.num_heads;
  return vitConfig(c.arch as VitArch, over);
}

function swinFor(c: TrainConfig, dropPathRate: number): SwinConfig {
  const over: Partial<SwinConfig> = { imgSize: c.global_crop_size, windowSize: c.window_size, patchSize: 4, dropPathRate };
  if (c.embed_dim !== null) over.embedDim = c.embed_dim;
  if (c.swin_depths && c.swin_num_heads) {
    over.depths = c.swin_depths;
    over.numHeads = c.swin_num_heads;
  }
  return swinTiny(over);
}

function rawDict(sd: Record<string, tf.Tensor>, prefix = ''): Record<string, RawTensor> {
  return Object.fromEntries(Object.entries(sd).map(([k, t]) => [prefix + k, tensorToRaw(t)]));
}

function prefixed(sd: Record<string, RawTensor>, prefix: string): Record<string, RawTensor> {
  return Object.fromEntries(Object.entries(sd).map(([k, v]) => [prefix + k, v]));
}

function take(tensors: Record<string, RawTensor>, prefix: string): Record<string, RawTensor> {
  const out: Record<string, RawTensor> = {};
  for (const [k, v] of Object.entries(tensors)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out;
}

function optimizerTensors(opt: AdamW): { tensors: Record<string, RawTensor>; steps: Record<string, number> } {
  const tensors: Record<string, RawTensor> = {};
  const steps: Record<string, number> = {};
  for (const [name, s] of Object.entries(opt.stateDict())) {
    tensors[`optimizer.${name}.exp_avg`] = s.exp_avg;
    tensors[`optimizer.${name}.exp_avg_sq`] = s.exp_avg_sq;
    steps[name] = s.step;
  }
  return { tensors, steps };
}

function loadOptimizer(opt: AdamW, tensors: Record<string, RawTensor>, steps: Record<string, number>): void {
  const sd = Object.fromEntries(
    Object.entries(steps).map(([name, step]) => {
      const m = tensors[`optimizer.${name}.exp_avg`];
      const v = tensors[`optimizer.${name}.exp_avg_sq`];
      if (!m || !v) throw new Error(`checkpoint lacks the AdamW moments of '${name}'`);
      return [name, { step, exp_avg: m, exp_avg_sq: v }];
    }),
  );
  opt.loadStateDict(sd, rawToTensor);
}

function countParams(m: Module): number {
  return m.namedParameters().reduce((n, [, v]) => n + v.size, 0);
}

/** DINO or DINO+SelfPatch on a ViT. */
export class DinoJob implements TrainJob {
  readonly recipe: RecipeSpec;
  readonly trainer: Trainer;
  readonly numParams: number;
  private readonly student: SelfPatchDINO;
  private readonly teacher: SelfPatchDINO;
  private readonly loss: DINOLoss;

  constructor({ config: c, niterPerEpoch }: JobContext) {
    const selfpatch = c.method === 'dino+selfpatch';
    const layout = selfpatch ? 'selfpatch' : 'dino';
    const rng = new Rng(c.seed);
    const head = {
      outDim: c.out_dim,
      patchOutDim: selfpatch ? c.out_dim_selfpatch : 0,
      hiddenDim: c.hidden_dim,
      bottleneckDim: c.bottleneck_dim,
      useBnInHead: c.use_bn_in_head,
      normLastLayer: c.norm_last_layer,
      matching: { k: c.k_num },
    };
    this.student = new SelfPatchDINO({ ...head, backbone: vitFor(c, layout, c.drop_path_rate) }, rng.fork('init'), rng.fork('drop_path'));
    this.teacher = new SelfPatchDINO({ ...head, backbone: vitFor(c, layout, 0) }, rng.fork('init'));
    this.teacher.loadStateDict(this.student.stateDict());
    for (const [, v] of this.teacher.namedParameters()) v.trainable = false;
    const ncrops = 2 + c.local_crops_number;
    this.loss = new DINOLoss({
      outDim: c.out_dim,
      patchOutDim: selfpatch ? c.out_dim_selfpatch : 0,
      ncrops,
      nepochs: c.epochs,
      warmupTeacherTemp: c.warmup_teacher_temp,
      teacherTemp: c.teacher_temp,
      warmupTeacherTempEpochs: c.warmup_teacher_temp_epochs,
      patchWeight: c.patch_weight,
    });
    const lr = (c.lr * c.batch_size) / c.lr_batch_ref;
    const minLr = c.min_lr;
    const schedules = {
      lr: cosineSchedule(lr, minLr, c.epochs, niterPerEpoch, c.warmup_epochs, c.warmup_lr),
      wd: cosineSchedule(c.weight_decay, c.weight_decay_end, c.epochs, niterPerEpoch),
      momentum: cosineSchedule(c.momentum_teacher, 1, c.epochs, niterPerEpoch),
    };
    this.trainer = new Trainer({
      student: this.student,
      teacher: this.teacher,
      loss: this.loss,
      schedules,
      niterPerEpoch,
      clipGrad: c.clip_grad,
      freezeLastLayer: c.freeze_last_layer,
      microBatch: c.micro_batch ?? undefined,
    });
    this.numParams = countParams(this.student);
    this.recipe = {
      kind: 'multicrop',
      options: {
        ...SELFPATCH_MULTICROP,
        globalSize: c.global_crop_size,
        localSize: c.local_crop_size,
        globalScale: c.global_crops_scale,
        localScale: c.local_crops_scale,
        localCrops: c.local_crops_number,
      },
    };
  }

  step(crops: tf.Tensor4D[], it: number): StepMetrics {
    const r = this.trainer.step(crops, it);
    const terms: Record<string, number> = { cls: r.clsLoss };
    if (!this.student.plainDino) terms.patch = r.patchLoss;
    return { loss: r.loss, terms, lr: r.lr, weight_decay: r.weightDecay, momentum: r.momentum, teacher_temp: r.teacherTemp };
  }

  getState(): JobState {
    const s = this.trainer.getState();
    const opt = optimizerTensors(this.trainer.optimizer);
    return {
      tensors: {
        ...prefixed(s.student, 'student.'),
        ...prefixed(s.teacher, 'teacher.'),
        ...opt.tensors,
        'loss.center': s.center,
        'loss.patch_center': s.patchCenter,
      },
      meta: { optimizerSteps: opt.steps, rng: s.dropPathRng },
    };
  }

  setState(s: JobState): void {
    const center = s.tensors['loss.center'];
    const patchCenter = s.tensors['loss.patch_center'];
    if (!center || !patchCenter) throw new Error('checkpoint lacks the DINO centers (loss.center, loss.patch_center)');
    const opt = new AdamW();
    loadOptimizer(opt, s.tensors, s.meta.optimizerSteps);
    this.trainer.setState({
      student: take(s.tensors, 'student.'),
      teacher: take(s.tensors, 'teacher.'),
      optimizer: opt.stateDict(),
      center,
      patchCenter,
      dropPathRng: s.meta.rng,
    });
    opt.dispose();
  }

  teacherBackbone(): Record<string, RawTensor> {
    return exportVitStateDict(this.teacher.backbone);
  }

  dispose(): void {
    this.trainer.optimizer.dispose();
    this.loss.dispose();
    this.student.dispose();
    this.teacher.dispose();
  }
}

/** MoBY or MoBY+SelfPatch (Swin, or ViT for plain MoBY). */
export class MobyJob implements TrainJob {
  readonly recipe: RecipeSpec;
  readonly numParams: number;
  private readonly model: MoBY;
  private readonly optimizer = new AdamW();
  private readonly groups: ParamGroups;
  private readonly lr: Float64Array;
  private readonly total: number;
  private readonly dropPathRng: Rng;
  private readonly clip: number;
  private readonly weightDecay: number;

  constructor({ config: c, niterPerEpoch }: JobContext) {
    this.clip = c.clip_grad;
    this.weightDecay = c.weight_decay;
    const rng = new Rng(c.seed);
    this.dropPathRng = rng.fork('drop_path');
    let online: VisionTransformer | SwinTransformer;
    let target: VisionTransformer | SwinTransformer;
    let dim: number;
    if (c.arch === 'swin_tiny') {
      const cfg = swinFor(c, c.drop_path_rate);
      online = new SwinTransformer(cfg, { rng: rng.fork('init'), dropPathRng: this.dropPathRng });
      target = new SwinTransformer({ ...cfg, dropPathRate: 0 }, { rng: rng.fork('init') });
      dim = numFeatures(cfg);
    } else {
      const cfg = vitFor(c, 'dino', c.drop_path_rate);
      online = new VisionTransformer(cfg, { rng: rng.fork('init'), dropPathRng: this.dropPathRng });
      target = new VisionTransformer({ ...cfg, dropPathRate: 0 }, { rng: rng.fork('init') });
      dim = cfg.embedDim;
    }
    const base = {
      numFeatures: dim,
      innerDim: c.moby_inner_dim,
      outDim: c.moby_out_dim,
      projLayers: c.proj_num_layers,
      predLayers: c.pred_num_layers,
      numNegative: c.contrast_num_negative,
      temperature: c.contrast_temperature,
      momentum: c.contrast_momentum,
      rng: rng.fork('heads'),
    };
    this.model =
      c.method === 'moby+selfpatch'
        ? new MoBYSelfPatch(online as SwinTransformer, target as SwinTransformer, {
            ...base,
            caHeads: (c.swin_num_heads ?? [3, 6, 12, 24]).at(-1) as number,
            patchOutDim: c.out_dim_selfpatch,
            patchHiddenDim: c.hidden_dim,
            patchBottleneckDim: c.bottleneck_dim,
            patchWeight: c.patch_weight,
            studentTemp: 0.1,
            teacherTemp: c.teacher_temp,
            matching: { k: c.k_num },
          })
        : new MoBY(online, target, base);
    this.groups = paramGroups(this.model.onlineParameters());
    const scale = c.batch_size / c.lr_batch_ref;
    this.lr = cosineSchedule(c.lr * scale, c.min_lr * scale, c.epochs, niterPerEpoch, c.warmup_epochs, c.warmup_lr * scale);
    this.total = c.epochs * niterPerEpoch;
    this.numParams = countParams(this.model);
    this.recipe = { kind: 'moby', size: c.global_crop_size };
  }

  step(crops: tf.Tensor4D[], it: number): StepMetrics {
    const [v1, v2] = crops as [tf.Tensor4D, tf.Tensor4D];
    const r = this.model.step(v1, v2, it, this.total);
    const grads = new Map<string, tf.Tensor | null>(r.grads);
    try {
      if (this.clip > 0) clipGradNorm(grads, this.clip);
      const lr = this.lr[it] as number;
      this.optimizer.step(
        [
          { params: this.groups.regularized, lr, weightDecay: this.weightDecay },
          { params: this.groups.notRegularized, lr, weightDecay: 0 },
        ],
        grads,
      );
      return { loss: r.loss, terms: Object.fromEntries(r.terms), lr, weight_decay: this.weightDecay, momentum: r.momentum };
    } finally {
      tf.dispose([...grads.values()].filter((g): g is tf.Tensor => g !== null));
    }
  }

  getState(): JobState {
    const opt = optimizerTensors(this.optimizer);
    return { tensors: { ...rawDict(this.model.stateDict(), 'model.'), ...opt.tensors }, meta: { optimizerSteps: opt.steps, rng: this.dropPathRng.getState() } };
  }

  setState(s: JobState): void {
    this.model.loadStateDict(take(s.tensors, 'model.'), { context: 'checkpoint (model)' });
    loadOptimizer(this.optimizer, s.tensors, s.meta.optimizerSteps);
    this.dropPathRng.setState(s.meta.rng);
  }

  teacherBackbone(): Record<string, RawTensor> {
    return rawDict(this.model.encoderK.stateDict());
  }

  dispose(): void {
    this.optimizer.dispose();
    this.model.dispose();
  }
}

export function createJob(ctx: JobContext): TrainJob {
  return ctx.config.method.startsWith('dino') ? new DinoJob(ctx) : new MobyJob(ctx);
}
