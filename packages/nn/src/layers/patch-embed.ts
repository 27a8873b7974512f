/**
 * Patch embedding, `Conv2d(3→C, kernel P, stride P)` (docs/selfpatch.md §1; Swin's patch partition),
 * computed as patchify +
 * one 2-D matMul with `proj.weight.reshape(C, 3P²)`: faster than a conv on wasm and trainable
 * there (wasm has no Conv2DBackpropFilter, docs/tfjs-backends.md §2). Remainder rows/columns are dropped,
 * as the strided conv does. The patchify uses only 4-D transposes (5-D ones are slow on wasm).
 */
import * as tf from '@tensorflow/tfjs-core';
import { defaultLinearInit } from '../init.js';
import { globalRng, type Rng } from '../rng-default.js';
import { linear } from '../ops/matmul.js';
import { Module } from '../module.js';
import { ShapeError } from '../errors.js';

export interface PatchGrid {
  /** Patch rows. */
  h: number;
  /** Patch columns. */
  w: number;
}

/** The patch grid of an `H × W` image. */
export function patchGrid(height: number, width: number, patchSize: number): PatchGrid {
  return { h: Math.floor(height / patchSize), w: Math.floor(width / patchSize) };
}

/**
 * Cuts NCHW images into flattened patches `[B·h·w, 3·P²]`, each in (channel, ky, kx) order,
 * patches row-major.
 */
export function patchify(x: tf.Tensor4D, patchSize: number): { patches: tf.Tensor2D; grid: PatchGrid } {
  const [b, ch, hh, ww] = x.shape;
  const p = patchSize;
  const grid = patchGrid(hh, ww, p);
  if (grid.h === 0 || grid.w === 0) throw new ShapeError(`image ${hh}x${ww} is smaller than one ${p}x${p} patch`);
  const cropped = grid.h * p === hh && grid.w * p === ww ? x : tf.slice(x, [0, 0, 0, 0], [b, ch, grid.h * p, grid.w * p]);
  // (b,c,i) ky j kx -> (b,c,i) j ky kx
  const t1 = tf.transpose(tf.reshape(cropped, [b * ch * grid.h, p, grid.w, p]), [0, 2, 1, 3]);
  // b c (i,j) (ky,kx) -> b (i,j) c (ky,kx)
  const t2 = tf.transpose(tf.reshape(t1, [b, ch, grid.h * grid.w, p * p]), [0, 2, 1, 3]);
  return { patches: tf.reshape(t2, [b * grid.h * grid.w, ch * p * p]) as tf.Tensor2D, grid };
}

/**
 * @example
 * ```ts
 * const pe = new PatchEmbed(16, 3, 192);
 * const { tokens, grid } = pe.forward(tf.zeros([2, 3, 224, 224]) as tf.Tensor4D); // [2, 196, 192], 14x14
 * ```
 */
export class PatchEmbed extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(
    readonly patchSize: number,
    readonly inChans: number,
    readonly embedDim: number,
    rng: Rng = globalRng(),
  ) {
    super();
    const fanIn = inChans * patchSize * patchSize;
    // The official code leaves the conv at PyTorch's default init.
    const proj = new ProjConv(embedDim, inChans, patchSize, fanIn, rng);
    this.addModule('proj', proj);
    this.weight = proj.weight;
    this.bias = proj.bias;
  }

  forward(x: tf.Tensor4D): { tokens: tf.Tensor3D; grid: PatchGrid } {
    if (x.rank !== 4 || x.shape[1] !== this.inChans) {
      throw new ShapeError(`PatchEmbed expects NCHW images with ${this.inChans} channels, got [${x.shape.join(',')}]`);
    }
    const { patches, grid } = patchify(x, this.patchSize);
    const w2 = tf.reshape(this.weight, [this.embedDim, this.inChans * this.patchSize ** 2]);
    const y = linear(patches, w2, this.bias);
    return { tokens: tf.reshape(y, [x.shape[0], grid.h * grid.w, this.embedDim]) as tf.Tensor3D, grid };
  }
}

/** Holds `proj.weight [C, 3, P, P]` and `proj.bias` under the conv's PyTorch keys. */
class ProjConv extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(out: number, inChans: number, p: number, fanIn: number, rng: Rng) {
    super();
    this.weight = this.addParameter('weight', defaultLinearInit([out, inChans, p, p], fanIn, rng));
    this.bias = this.addParameter('bias', defaultLinearInit([out], fanIn, rng));
  }
}
