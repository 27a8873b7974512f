/**
 * Window geometry of Swin (docs/swin-moby.md §1 "Window attention", "Relative position bias",
 * "Shifted windows"): partition/reverse with one 4-D transpose each (the reference's 6-D permute
 * is slow on wasm), the relative-position index, and the −100 shift mask, all for any padded size.
 */
import * as tf from '@tensorflow/tfjs-core';

/** `[B, H, W, C]` → `[B·nW, ws·ws, C]`, windows batch-major then row-major; tokens row-major. */
export function windowPartition(x: tf.Tensor4D, ws: number): tf.Tensor3D {
  const [b, h, w, c] = x.shape;
  const t = tf.transpose(tf.reshape(x, [b * (h / ws), ws, w / ws, ws * c]), [0, 2, 1, 3]);
  return tf.reshape(t, [b * (h / ws) * (w / ws), ws * ws, c]) as tf.Tensor3D;
}

/** Inverse of {@link windowPartition}. */
export function windowReverse(windows: tf.Tensor, ws: number, b: number, h: number, w: number): tf.Tensor4D {
  const c = windows.shape[windows.rank - 1] as number;
  const t = tf.transpose(tf.reshape(windows, [b * (h / ws), w / ws, ws, ws * c]), [0, 2, 1, 3]);
  return tf.reshape(t, [b, h, w, c]) as tf.Tensor4D;
}

/** `index[p, q] = (yp − yq + ws − 1)·(2ws − 1) + (xp − xq + ws − 1)` for tokens p, q of a window. */
export function relativePositionIndex(ws: number): Int32Array {
  const n = ws * ws;
  const out = new Int32Array(n * n);
  for (let p = 0; p < n; p++) {
    const yp = Math.floor(p / ws);
    const xp = p % ws;
    for (let q = 0; q < n; q++) {
      const yq = Math.floor(q / ws);
      const xq = q % ws;
      out[p * n + q] = (yp - yq + ws - 1) * (2 * ws - 1) + (xp - xq + ws - 1);
    }
  }
  return out;
}

/**
 * Attention mask of shifted windows on an `h × w` map: regions `[0, h−ws)`, `[h−ws, h−s)`,
 * `[h−s, h)` per axis, label `3·rowband + colband`; 0 where query and key share a label, −100
 * otherwise. `[nW, ws², ws²]`.
 */
export function shiftMask(h: number, w: number, ws: number, shift: number): Float32Array {
  const band = (i: number, n: number) => (i < n - ws ? 0 : i < n - shift ? 1 : 2);
  const label = new Int32Array(h * w);
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) label[i * w + j] = 3 * band(i, h) + band(j, w);
  const nwh = h / ws;
  const nww = w / ws;
  const n = ws * ws;
  const out = new Float32Array(nwh * nww * n * n);
  for (let wy = 0; wy < nwh; wy++) {
    for (let wx = 0; wx < nww; wx++) {
      const base = (wy * nww + wx) * n * n;
      const lab = (p: number) => label[(wy * ws + Math.floor(p / ws)) * w + wx * ws + (p % ws)] as number;
      for (let p = 0; p < n; p++) for (let q = 0; q < n; q++) out[base + p * n + q] = lab(p) === lab(q) ? 0 : -100;
    }
  }
  return out;
}

const maskCache = new Map<string, tf.Tensor3D>();

/** Cached mask tensor for a padded map size. */
export function shiftMaskTensor(h: number, w: number, ws: number, shift: number): tf.Tensor3D {
  const key = `${h}x${w}/${ws}/${shift}`;
  let t = maskCache.get(key);
  if (!t || t.isDisposed) {
    t = tf.keep(tf.tensor3d(shiftMask(h, w, ws, shift), [(h / ws) * (w / ws), ws * ws, ws * ws]));
    maskCache.set(key, t);
  }
  return t;
}
