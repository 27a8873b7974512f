/**
 * Export of the teacher backbone with the official state-dict keys, as safetensors and as a
 * PyTorch `.pth` (a flat state dict `torch.load` reads, the form the official
 * `load_pretrained_weights` and timm accept), from a finished run or any training checkpoint.
 * SelfPatch runs add the teacher's aggregation module (`ca_head.*`): the image-level feature of
 * the method (docs/selfpatch.md §2); loaders of the bare backbone skip it.
 */
import { join } from 'node:path';
import type { RawTensor } from '@selfpatch/nn';
import { serializePth, serializeSafetensors } from '@selfpatch/checkpoint';
import { writeFileAtomic } from '@selfpatch/checkpoint/node';
import type { TrainConfig } from './config.js';
import { createObjective } from './objectives.js';
import { readTrainCheckpoint } from './checkpoint.js';

export function exportTeacher(sd: Record<string, RawTensor>, dir: string, config: TrainConfig, stem = 'teacher_backbone'): { safetensors: string; pth: string } {
  const safetensors = join(dir, `${stem}.safetensors`);
  const pth = join(dir, `${stem}.pth`);
  const meta = { arch: config.arch, method: config.method, patch_size: String(config.patch_size), source: 'selfpatch-ts' };
  writeFileAtomic(safetensors, serializeSafetensors(sd, meta));
  writeFileAtomic(pth, serializePth(sd, { archiveName: stem }));
  return { safetensors, pth };
}

/**
 * Exports the teacher backbone stored in a training checkpoint.
 *
 * @example
 * ```ts
 * exportCheckpoint('runs/demo/checkpoints/checkpoint-00000060.safetensors', 'runs/demo/export');
 * ```
 */
export function exportCheckpoint(checkpointPath: string, dir: string): { safetensors: string; pth: string } {
  const ckpt = readTrainCheckpoint(checkpointPath);
  // Rebuild the objective to map checkpoint tensors to the backbone's official keys (one code path).
  const objective = createObjective({ config: ckpt.config, niterPerEpoch: 1 });
  try {
    objective.setState(ckpt.objective);
    return exportTeacher(objective.teacherBackbone(), dir, ckpt.config);
  } finally {
    objective.dispose();
  }
}
