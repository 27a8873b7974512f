/**
 * Analytic multiply-add counts of the benchmarked models (matrix products only; elementwise work,
 * norms and softmax are not counted, as usual for "model FLOPs"). GFLOP figures are 2 × these.
 * Shapes follow docs/selfpatch.md §1-§4: SelfPatch ViT without CLS token, `ca_head` with two
 * class-attention blocks (k = 4 neighbours on the teacher side), DINO heads 2048/2048/256.
 */
export const VIT_DIMS = { vit_tiny: [192, 12, 3], vit_small: [384, 12, 6] } as const;
export type BenchArch = keyof typeof VIT_DIMS;

const HIDDEN = 2048;
const BOTTLENECK = 256;
const K_NUM = 4;

/** Multiply-adds of one SelfPatch ViT forward on one `h×w` image (patch 16). */
export function vitForwardMacs(arch: BenchArch, h: number, w: number): number {
  const [c, depth] = VIT_DIMS[arch];
  const n = Math.floor(h / 16) * Math.floor(w / 16);
  const patchEmbed = n * 3 * 16 * 16 * c;
  const block = 12 * n * c * c + 2 * n * n * c;
  return patchEmbed + depth * block;
}

/** One class-attention block updating one token over `m` other tokens. */
function caBlockMacs(c: number, m: number): number {
  return 2 * (m + 1) * c * c + 10 * c * c + 2 * (m + 1) * c;
}

function headMacs(c: number, out: number): number {
  return c * HIDDEN + HIDDEN * HIDDEN + HIDDEN * BOTTLENECK + BOTTLENECK * out;
}

/** Student (loc=False) and teacher (loc=True) multiply-adds for one image of `n` patches. */
function wrapperMacs(arch: BenchArch, size: number, outDim: number, patchOutDim: number): { student: number; teacher: number } {
  const [c] = VIT_DIMS[arch];
  const n = (size / 16) ** 2;
  const common = vitForwardMacs(arch, size, size) + 2 * caBlockMacs(c, n) + headMacs(c, outDim) + n * headMacs(c, patchOutDim);
  const local = n * 8 * c + n * 2 * caBlockMacs(c, K_NUM);
  return { student: common, teacher: common + local };
}

/**
 * FLOPs (2 × multiply-adds) of one DINO+SelfPatch iteration: `batch` images, 2 global 224 crops
 * and `nLocal` 96 crops; the student counted 3× (forward and backward), the teacher 1×.
 */
export function selfpatchStepFlops(arch: BenchArch, batch: number, nLocal: number, outDim: number, patchOutDim: number): number {
  const g = wrapperMacs(arch, 224, outDim, patchOutDim);
  const l = wrapperMacs(arch, 96, outDim, patchOutDim);
  const perImage = 2 * (3 * g.student + g.teacher) + nLocal * (3 * l.student + l.teacher);
  return 2 * batch * perImage;
}
