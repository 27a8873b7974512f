/**
 * Swin block (docs/swin-moby.md §1 "Block", "Shifted windows", "Small-resolution rule"):
 * `x = x + DropPath(WMSA(LN1(x)))`, `x = x + DropPath(MLP(LN2(x)))`, the attention in (shifted)
 * windows. Keys `norm1`, `attn.*`, `norm2`, `mlp.*`, and for shifted blocks the buffer `attn_mask`
 * at the configured resolution.
 *
 * Window size and shift are fixed at construction from the configured resolution (the official
 * small-resolution rule: a map no larger than the window gets one window and no shift). Padding
 * policy for other input sizes (the official file has none): the normalised map is zero-padded at
 * the bottom/right to a multiple of the block's window, shift masks are built for the padded size,
 * and the result is cropped back before the residual — the policy of mmseg's Swin backbone, which
 * the official SelfPatch segmentation code uses. At the configured size nothing is padded.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DropPath, LayerNorm, Mlp, Module, roll, type Rng } from '@selfpatch/nn';
import { WindowAttention } from './window-attention.js';
import { shiftMask, shiftMaskTensor, windowPartition, windowReverse } from './windows.js';

export interface SwinBlockOptions {
  dim: number;
  numHeads: number;
  windowSize: number;
  /** Shift of odd blocks (windowSize/2) or 0. */
  shiftSize: number;
  /** Resolution the model was configured for (registers `attn_mask`). */
  inputResolution: [number, number];
  mlpRatio: number;
  qkvBias: boolean;
  qkScale?: number;
  eps: number;
  dropPath: number;
  rng: Rng;
  dropPathRng: Rng;
}

/** Effective window and shift on an `h × w` map (small-resolution rule). */
export function effectiveWindow(h: number, w: number, windowSize: number, shiftSize: number): { ws: number; shift: number } {
  return Math.min(h, w) <= windowSize ? { ws: Math.min(h, w), shift: 0 } : { ws: windowSize, shift: shiftSize };
}

export class SwinBlock extends Module {
  /** Window and shift fixed at construction from the configured resolution (as the reference). */
  readonly ws: number;
  readonly shift: number;
  readonly norm1: LayerNorm;
  readonly attn: WindowAttention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  readonly dropPath: DropPath;

  constructor(readonly o: SwinBlockOptions) {
    super();
    const [h, w] = o.inputResolution;
    // Official attributes at the configured resolution (window shrinks on small maps).
    const eff = effectiveWindow(h, w, o.windowSize, o.shiftSize);
    this.ws = eff.ws;
    this.shift = eff.shift;
    this.norm1 = this.addModule('norm1', new LayerNorm(o.dim, o.eps));
    this.attn = this.addModule('attn', new WindowAttention(o.dim, eff.ws, o.numHeads, { qkvBias: o.qkvBias, qkScale: o.qkScale, rng: o.rng }));
    this.dropPath = this.addModule('drop_path', new DropPath(o.dropPath, o.dropPathRng));
    this.norm2 = this.addModule('norm2', new LayerNorm(o.dim, o.eps));
    this.mlp = this.addModule('mlp', new Mlp(o.dim, { hiddenFeatures: Math.round(o.dim * o.mlpRatio), rng: o.rng }));
    if (eff.shift > 0) {
      const hp = Math.ceil(h / eff.ws) * eff.ws;
      const wp = Math.ceil(w / eff.ws) * eff.ws;
      this.addBuffer('attn_mask', tf.tensor3d(shiftMask(hp, wp, eff.ws, eff.shift), [(hp / eff.ws) * (wp / eff.ws), eff.ws ** 2, eff.ws ** 2]));
    }
  }

  /** `x [B, h·w, C]` on an `h × w` map. */
  forward(x: tf.Tensor3D, h: number, w: number, returnAttention = false): { x: tf.Tensor3D; attn?: tf.Tensor4D } {
    const [b, , c] = x.shape;
    // Other sizes than the configured one keep the trained window/shift and pad (policy above).
    const { ws, shift } = this;
    const hp = Math.ceil(h / ws) * ws;
    const wp = Math.ceil(w / ws) * ws;
    let map = tf.reshape(this.norm1.forward(x), [b, h, w, c]) as tf.Tensor4D;
    if (hp !== h || wp !== w) map = tf.pad(map, [[0, 0], [0, hp - h], [0, wp - w], [0, 0]]);
    if (shift > 0) map = roll(roll(map, -shift, 1), -shift, 2) as tf.Tensor4D;
    const mask = shift > 0 ? shiftMaskTensor(hp, wp, ws, shift) : null;
    const a = this.attn.forward(windowPartition(map, ws), mask, returnAttention);
    let back = windowReverse(a.out, ws, b, hp, wp);
    if (shift > 0) back = roll(roll(back, shift, 1), shift, 2) as tf.Tensor4D;
    if (hp !== h || wp !== w) back = tf.slice(back, [0, 0, 0, 0], [b, h, w, c]);
    const y = tf.add(x, this.dropPath.forward(tf.reshape(back, [b, h * w, c])));
    const out = tf.add(y, this.dropPath.forward(this.mlp.forward(this.norm2.forward(y)))) as tf.Tensor3D;
    return a.attn ? { x: out, attn: a.attn } : { x: out };
  }
}
