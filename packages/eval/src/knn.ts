/**
 * Weighted k-NN classification, the DINO protocol (`eval_knn.py` `knn_classifier`): features
 * L2-normalised, cosine similarity to every training feature, the k nearest vote with weight
 * exp(sim / T), classes ranked by total weight; top-1 / top-5 accuracy in percent. Defaults k = 20,
 * T = 0.07. Test features are processed in chunks so the similarity matrix stays small.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, l2normalize, matmul2d, ShapeError } from '@selfpatch/nn';

export interface KnnOptions {
  k?: number;
  temperature?: number;
  numClasses: number;
  /** Test rows per chunk (100, as the reference). */
  chunk?: number;
}

export interface KnnResult {
  top1: number;
  top5: number;
  /** Predicted class per test sample. */
  predictions: Int32Array;
}

/**
 * @example
 * ```ts
 * const { top1, top5 } = knnClassify(trainFeats, trainLabels, testFeats, testLabels, { numClasses: 10 });
 * ```
 */
export function knnClassify(trainFeats: tf.Tensor2D, trainLabels: ArrayLike<number>, testFeats: tf.Tensor2D, testLabels: ArrayLike<number>, options: KnnOptions): KnnResult {
  const k = options.k ?? 20;
  return knnClassifyMany(trainFeats, trainLabels, testFeats, testLabels, [k], options).get(k) as KnnResult;
}

/**
 * {@link knnClassify} for several k in one pass (DINO evaluates k = 10, 20, 100, 200): the
 * similarities and the top-max(k) neighbours are computed once; each k votes with its first k
 * (the top-k of a sorted top-K list, so the same neighbours as a separate top-k).
 *
 * @example
 * ```ts
 * const byK = knnClassifyMany(trainFeats, trainLabels, testFeats, testLabels, [10, 20, 100, 200], { numClasses: 1000 });
 * console.log(byK.get(20)?.top1);
 * ```
 */
export function knnClassifyMany(
  trainFeats: tf.Tensor2D,
  trainLabels: ArrayLike<number>,
  testFeats: tf.Tensor2D,
  testLabels: ArrayLike<number>,
  ks: readonly number[],
  options: Omit<KnnOptions, 'k'>,
): Map<number, KnnResult> {
  const T = options.temperature ?? 0.07;
  const C = options.numClasses;
  const n = trainFeats.shape[0];
  const m = testFeats.shape[0];
  if (trainLabels.length !== n || testLabels.length !== m) throw new ShapeError(`labels (${trainLabels.length}, ${testLabels.length}) do not match features (${n}, ${m})`);
  if (ks.length === 0) throw new ConfigError('k', 'give at least one k');
  for (const k of ks) if (!(Number.isInteger(k) && k >= 1 && k <= n)) throw new ConfigError('k', `must be in 1..${n} (training samples), got ${k}`);
  const K = Math.max(...ks);
  const chunk = options.chunk ?? 100;
  const train = tf.tidy(() => tf.transpose(l2normalize(trainFeats)) as tf.Tensor2D); // [C, n]
  const results = new Map(ks.map((k) => [k, { top1: 0, top5: 0, predictions: new Int32Array(m) }]));
  try {
    for (let s = 0; s < m; s += chunk) {
      const rows = Math.min(chunk, m - s);
      const { values, indices } = tf.tidy(() => {
        const q = l2normalize(tf.slice(testFeats, [s, 0], [rows, -1]));
        const r = tf.topk(matmul2d(q as tf.Tensor2D, train), K);
        return { values: tf.exp(tf.div(r.values, T)), indices: r.indices };
      });
      const w = values.dataSync();
      const idx = indices.dataSync();
      tf.dispose([values, indices]);
      for (const [k, res] of results) {
        for (let i = 0; i < rows; i++) {
          const votes = new Float64Array(C);
          for (let j = 0; j < k; j++) {
            const cls = trainLabels[idx[i * K + j] as number] as number;
            votes[cls] = (votes[cls] as number) + (w[i * K + j] as number);
          }
          // Rank classes by vote, ties to the lower index (torch.sort descending is not stable; rare).
          const order = Array.from({ length: C }, (_, c) => c).sort((a, b) => (votes[b] as number) - (votes[a] as number) || a - b);
          const truth = testLabels[s + i] as number;
          res.predictions[s + i] = order[0] as number;
          if (order[0] === truth) res.top1++;
          if (order.slice(0, Math.min(5, C)).includes(truth)) res.top5++;
        }
      }
    }
  } finally {
    train.dispose();
  }
  return new Map([...results].map(([k, r]) => [k, { top1: (100 * r.top1) / m, top5: (100 * r.top5) / m, predictions: r.predictions }]));
}
