/**
 * One tfjs measurement in its own process (bench/vit-forward.ts drives it): ViT forward on the
 * requested backend, eval mode. Prints one JSON line: median ms, wasm heap size and peak live
 * tensor bytes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@selfpatch/backend';
import { Rng } from '@selfpatch/nn';
import { VisionTransformer, vitConfig, type VitArch } from '@selfpatch/vit';

const [arch, batch, height, width, repeats, backend] = process.argv.slice(2) as [VitArch, string, string, string, string, string];
await initBackend(backend ?? 'wasm');
const vit = new VisionTransformer(vitConfig(arch), { rng: new Rng(0) }).eval();
const x = tf.randomNormal([Number(batch), 3, Number(height), Number(width)]) as tf.Tensor4D;
const times: number[] = [];
let peak = 0;
for (let i = 0; i <= Number(repeats); i++) {
  const t0 = performance.now();
  const prof = await tf.profile(() => {
    const y = vit.forward(x);
    y.dataSync();
    y.dispose();
  });
  const ms = performance.now() - t0;
  peak = Math.max(peak, prof.peakBytes);
  if (i > 0) times.push(ms);
}
times.sort((a, b) => a - b);
const heap = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.length ?? 0;
console.log(JSON.stringify({ ms: times[Math.floor(times.length / 2)], heap_mb: heap / 2 ** 20, peak_tensor_mb: peak / 2 ** 20 }));
process.exit(0);
