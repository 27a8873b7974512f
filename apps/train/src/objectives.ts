/**
 * Config → trainer wiring for the two objectives, behind one interface so the loop, checkpoints and
 * logging are shared: DINO / DINO+SelfPatch on the ssl package's `DINOTrainer` (docs/selfpatch.md
 * §5) and MoBY / MoBY+SelfPatch on its `MoBYTrainer` (docs/swin-moby.md §2). The steps themselves
 * live in @selfpatch/ssl; this file only builds models, schedules and checkpoint tensor names.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, rawStateDict, type Module, type RawTensor, type RngState } from '@selfpatch/nn';
import { SELFPATCH_MULTICROP, type RecipeSpec } from '@selfpatch/data';
import { DINOLoss, DINOTrainer, MoBY, MoBYSelfPatch, MoBYTrainer, SelfPatchDINO, cosineSchedule, mobyLrSchedule, teacherTempSchedule, type OptimizerState, type TrainStepResult } from '@selfpatch/ssl';
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
export interface ObjectiveState {
  tensors: Record<string, RawTensor>;
  meta: { optimizerSteps: Record<string, number>; rng: RngState };
}

/** One training objective wired from a config (what the loop drives). */
export interface TrainObjective {
  readonly recipe: RecipeSpec;
  /** Runs iteration `it` on a batch (per crop `[B, 3, s, s]`). Throws on a non-finite loss. */
  step(crops: tf.Tensor4D[], it: number): StepMetrics;
  getState(): ObjectiveState;
  setState(s: ObjectiveState): void;
  /** The teacher (target) backbone with the official keys. */
  teacherBackbone(): Record<string, RawTensor>;
  /** Parameter count of the trained network. */
  readonly numParams: number;
  dispose(): void;
}

export interface ObjectiveContext {
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

function prefixed(sd: Record<string, RawTensor>, prefix: string): Record<string, RawTensor> {
  return Object.fromEntries(Object.entries(sd).map(([k, v]) => [prefix + k, v]));
}

function take(tensors: Record<string, RawTensor>, prefix: string): Record<string, RawTensor> {
  const out: Record<string, RawTensor> = {};
  for (const [k, v] of Object.entries(tensors)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out;
}

function optimizerTensors(state: OptimizerState): { tensors: Record<string, RawTensor>; steps: Record<string, number> } {
  const tensors: Record<string, RawTensor> = {};
  const steps: Record<string, number> = {};
  for (const [name, s] of Object.entries(state)) {
    tensors[`optimizer.${name}.exp_avg`] = s.exp_avg;
    tensors[`optimizer.${name}.exp_avg_sq`] = s.exp_avg_sq;
    steps[name] = s.step;
  }
  return { tensors, steps };
}

function optimizerState(tensors: Record<string, RawTensor>, steps: Record<string, number>): OptimizerState {
  return Object.fromEntries(
    Object.entries(steps).map(([name, step]) => {
      const m = tensors[`optimizer.${name}.exp_avg`];
      const v = tensors[`optimizer.${name}.exp_avg_sq`];
      if (!m || !v) throw new Error(`checkpoint lacks the AdamW moments of '${name}'`);
      return [name, { step, exp_avg: m, exp_avg_sq: v }];
    }),
  );
}

/** The loop's view of a step: total, named terms and the schedule values. */
function metrics(r: TrainStepResult): StepMetrics {
  const m: StepMetrics = { loss: r.loss, terms: r.terms, lr: r.lr, weight_decay: r.weightDecay, momentum: r.momentum };
  if (r.teacherTemp !== undefined) m.teacher_temp = r.teacherTemp;
  return m;
}

function countParams(m: Module): number {
  return m.namedParameters().reduce((n, [, v]) => n + v.size, 0);
}

/** DINO or DINO+SelfPatch on a ViT. */
export class DinoObjective implements TrainObjective {
  readonly recipe: RecipeSpec;
  readonly trainer: DINOTrainer;
  readonly numParams: number;
  private readonly student: SelfPatchDINO;
  private readonly teacher: SelfPatchDINO;
  private readonly loss: DINOLoss;

  constructor({ config: c, niterPerEpoch }: ObjectiveContext) {
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
      matching: { k: c.k_num, border: c.patch_border },
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
    this.trainer = new DINOTrainer({
      student: this.student,
      teacher: this.teacher,
      loss: this.loss,
      schedules,
      niterPerEpoch,
      clipGrad: c.clip_grad,
      freezeLastLayer: c.freeze_last_layer,
      microBatch: c.micro_batch ?? undefined,
      // The teacher's forward is untaped, but at a recipe's global batch it still needs bounding.
      teacherMicroBatch: c.micro_batch ?? undefined,
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
    return metrics(this.trainer.step(crops, it));
  }

  getState(): ObjectiveState {
    const s = this.trainer.getState();
    const opt = optimizerTensors(s.optimizer);
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

  setState(s: ObjectiveState): void {
    const center = s.tensors['loss.center'];
    const patchCenter = s.tensors['loss.patch_center'];
    if (!center || !patchCenter) throw new Error('checkpoint lacks the DINO centers (loss.center, loss.patch_center)');
    this.trainer.setState({
      student: take(s.tensors, 'student.'),
      teacher: take(s.tensors, 'teacher.'),
      optimizer: optimizerState(s.tensors, s.meta.optimizerSteps),
      center,
      patchCenter,
      dropPathRng: s.meta.rng,
    });
  }

  teacherBackbone(): Record<string, RawTensor> {
    // With SelfPatch, the aggregation module too (`ca_head.*`, official keys): its class token is
    // the image-level feature (k-NN, retrieval); the official loaders (strict=False) ignore it.
    const head = this.teacher.caHead ? rawStateDict(this.teacher.caHead.stateDict(), 'ca_head.') : {};
    return { ...exportVitStateDict(this.teacher.backbone), ...head };
  }

  dispose(): void {
    this.trainer.dispose();
    this.loss.dispose();
    this.student.dispose();
    this.teacher.dispose();
  }
}

/** MoBY or MoBY+SelfPatch (Swin, or ViT for plain MoBY). */
export class MobyObjective implements TrainObjective {
  readonly recipe: RecipeSpec;
  readonly numParams: number;
  readonly trainer: MoBYTrainer;
  private readonly model: MoBY;

  constructor({ config: c, niterPerEpoch }: ObjectiveContext) {
    const rng = new Rng(c.seed);
    const dropPathRng = rng.fork('drop_path');
    let online: VisionTransformer | SwinTransformer;
    let target: VisionTransformer | SwinTransformer;
    let dim: number;
    if (c.arch === 'swin_tiny') {
      const cfg = swinFor(c, c.drop_path_rate);
      online = new SwinTransformer(cfg, { rng: rng.fork('init'), dropPathRng });
      target = new SwinTransformer({ ...cfg, dropPathRate: 0 }, { rng: rng.fork('init') });
      dim = numFeatures(cfg);
    } else {
      const cfg = vitFor(c, 'dino', c.drop_path_rate);
      online = new VisionTransformer(cfg, { rng: rng.fork('init'), dropPathRng });
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
            matching: { k: c.k_num, border: c.patch_border },
          })
        : new MoBY(online, target, base);
    const scale = c.batch_size / c.lr_batch_ref;
    const lr = mobyLrSchedule(c.lr * scale, c.min_lr * scale, c.epochs, niterPerEpoch, c.warmup_epochs, c.warmup_lr * scale);
    const patchTeacherTemp = c.method === 'moby+selfpatch' ? teacherTempSchedule(c.warmup_teacher_temp, c.teacher_temp, c.warmup_teacher_temp_epochs, c.epochs) : undefined;
    this.trainer = new MoBYTrainer({ model: this.model, lr, weightDecay: c.weight_decay, niterPerEpoch, clipGrad: c.clip_grad, dropPathRng, ...(patchTeacherTemp ? { patchTeacherTemp } : {}) });
    this.numParams = countParams(this.model);
    this.recipe = { kind: 'moby', size: c.global_crop_size };
  }

  step(crops: tf.Tensor4D[], it: number): StepMetrics {
    return metrics(this.trainer.step(crops, it));
  }

  getState(): ObjectiveState {
    const s = this.trainer.getState();
    const opt = optimizerTensors(s.optimizer);
    return { tensors: { ...prefixed(s.model, 'model.'), ...opt.tensors }, meta: { optimizerSteps: opt.steps, rng: s.dropPathRng as RngState } };
  }

  setState(s: ObjectiveState): void {
    this.trainer.setState({ model: take(s.tensors, 'model.'), optimizer: optimizerState(s.tensors, s.meta.optimizerSteps), dropPathRng: s.meta.rng });
  }

  teacherBackbone(): Record<string, RawTensor> {
    return rawStateDict(this.model.encoderK.stateDict());
  }

  dispose(): void {
    this.trainer.dispose();
    this.model.dispose();
  }
}

/** The objective `config.method` names, wired from the config. */
export function createObjective(ctx: ObjectiveContext): TrainObjective {
  return ctx.config.method.startsWith('dino') ? new DinoObjective(ctx) : new MobyObjective(ctx);
}
