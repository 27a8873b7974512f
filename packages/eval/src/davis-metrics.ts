/**
 * DAVIS J&F exactly as davis2017-evaluation computes it (docs/davis-eval.md §1-3): region similarity
 * J (IoU, 1 for an empty union), boundary F (`_seg2bmap` boundaries, disk dilation with radius
 * `ceil(0.008·diag)`, precision/recall with the reference's empty-set conventions, no thinning),
 * and `db_statistics` (mean, strict recall > 0.5, decay over four inclusive bins). Plain JS over
 * 0/1 masks: integer counts, float64 ratios.
 */

/** Masks are `h·w` arrays; any non-zero value is foreground. */
export type Mask = ArrayLike<number>;

/** `db_eval_iou` for one frame: `|G ∩ P ∖ V| / |(G ∪ P) ∖ V|`, 1 when the union is empty. */
export function jaccard(gt: Mask, pred: Mask, voidMask?: Mask | null): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < gt.length; i++) {
    if (voidMask && voidMask[i]) continue;
    const g = gt[i] !== 0;
    const p = pred[i] !== 0;
    if (g && p) inter++;
    if (g || p) union++;
  }
  return union === 0 ? 1 : inter / union;
}

/** `_seg2bmap`: a pixel differing from its right, bottom or bottom-right neighbour (outside = 0). */
export function seg2bmap(mask: Mask, h: number, w: number): Uint8Array {
  const b = new Uint8Array(h * w);
  const at = (y: number, x: number) => (y < h && x < w && mask[y * w + x] !== 0 ? 1 : 0);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = at(y, x);
      const lastRow = y === h - 1;
      const lastCol = x === w - 1;
      let edge: boolean;
      if (lastRow && lastCol) edge = false;
      else if (lastRow) edge = v !== at(y, x + 1);
      else if (lastCol) edge = v !== at(y + 1, x);
      else edge = v !== at(y, x + 1) || v !== at(y + 1, x) || v !== at(y + 1, x + 1);
      b[y * w + x] = edge ? 1 : 0;
    }
  }
  return b;
}

function dilateDisk(b: Uint8Array, h: number, w: number, r: number): Uint8Array {
  const out = new Uint8Array(h * w);
  const offs: Array<[number, number]> = [];
  for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) if (dx * dx + dy * dy <= r * r) offs.push([dy, dx]);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!b[y * w + x]) continue;
      for (const [dy, dx] of offs) {
        const yy = y + dy;
        const xx = x + dx;
        if (yy >= 0 && yy < h && xx >= 0 && xx < w) out[yy * w + xx] = 1;
      }
    }
  }
  return out;
}

/** Boundary tolerance radius: `boundTh` if ≥ 1, else `ceil(boundTh·√(h² + w²))` (8 at 480×854). */
export function boundaryRadius(h: number, w: number, boundTh = 0.008): number {
  return boundTh >= 1 ? boundTh : Math.ceil(boundTh * Math.sqrt(h * h + w * w));
}

/** `db_eval_boundary` / `f_measure` for one frame. */
export function boundaryF(gt: Mask, pred: Mask, h: number, w: number, options: { boundTh?: number; voidMask?: Mask | null } = {}): number {
  const v = options.voidMask;
  const strip = (m: Mask): Uint8Array => {
    // A plain loop: Uint8Array.from with a map callback took ~1 s per DAVIS-sized sequence.
    const out = new Uint8Array(h * w);
    for (let i = 0; i < h * w; i++) out[i] = m[i] !== 0 && !(v && v[i]) ? 1 : 0;
    return out;
  };
  const r = boundaryRadius(h, w, options.boundTh ?? 0.008);
  const bp = seg2bmap(strip(pred), h, w);
  const bg = seg2bmap(strip(gt), h, w);
  const dp = dilateDisk(bp, h, w, r);
  const dg = dilateDisk(bg, h, w, r);
  let nP = 0;
  let nG = 0;
  let matchP = 0;
  let matchG = 0;
  for (let i = 0; i < h * w; i++) {
    if (bp[i]) {
      nP++;
      if (dg[i]) matchP++;
    }
    if (bg[i]) {
      nG++;
      if (dp[i]) matchG++;
    }
  }
  let precision: number;
  let recall: number;
  if (nP === 0 && nG > 0) [precision, recall] = [1, 0];
  else if (nP > 0 && nG === 0) [precision, recall] = [0, 1];
  else if (nP === 0 && nG === 0) [precision, recall] = [1, 1];
  else [precision, recall] = [matchP / nP, matchG / nG];
  return precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
}

export interface Statistics {
  mean: number;
  recall: number;
  decay: number;
}

function nanmean(xs: number[]): number {
  const v = xs.filter((x) => !Number.isNaN(x));
  return v.length === 0 ? NaN : v.reduce((a, b) => a + b, 0) / v.length;
}

/** numpy `round` (half to even). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * `db_statistics`: mean (NaN ignored), recall (`v > 0.5`, strict; NaN counts as a miss, as numpy's
 * comparison makes it), decay over four inclusive bins (NaN ignored).
 */
export function dbStatistics(values: number[]): Statistics {
  const n = values.length;
  const ids = Array.from({ length: 5 }, (_, i) => ((roundHalfEven((n === 1 ? 1 : 1 + ((n - 1) * i) / 4) + 1e-10) - 1) & 0xff));
  const bins = [0, 1, 2, 3].map((i) => values.slice(ids[i] as number, (ids[i + 1] as number) + 1));
  return {
    mean: nanmean(values),
    // numpy: `NaN > 0.5` is False before nanmean sees it, so NaN frames count as misses.
    recall: nanmean(values.map((x) => (x > 0.5 ? 1 : 0))),
    decay: nanmean(bins[0] as number[]) - nanmean(bins[3] as number[]),
  };
}
