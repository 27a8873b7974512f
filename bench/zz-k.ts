import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@selfpatch/nn/runtime';
import { Rng } from '@selfpatch/nn';
import { vitConfig } from '@selfpatch/vit';
import { SelfPatchDINO } from '@selfpatch/ssl';
await initBackend('wasm');
const net = new SelfPatchDINO({ backbone: vitConfig('vit_tiny'), outDim: 65536, patchOutDim: 4096 }, new Rng(0));
const x = tf.randomNormal([2, 3, 224, 224]) as tf.Tensor4D;
tf.tidy(() => { net.forward(x, true).cls.dataSync(); });
for (const loc of [true, false]) {
  const p = await tf.profile(() => { tf.tidy(() => { net.forward(x, loc).cls.dataSync(); }); });
  const agg: Record<string, [number, number]> = {};
  let total = 0;
  for (const k of p.kernels) { const ms = (await k.kernelTimeMs) as number; total += ms; const a = (agg[k.name] ??= [0, 0]); a[0] += ms; a[1]++; }
  console.log('loc', loc, 'kernel ms', total.toFixed(0), 'kernels', p.kernels.length, Object.entries(agg).sort((a, b) => b[1][0] - a[1][0]).slice(0, 8).map(([n, [ms, c]]) => `${n} ${ms.toFixed(0)}ms/${c}`).join(', '));
}
const t0 = performance.now(); tf.tidy(() => { net.forward(x, true).cls.dataSync(); }); console.log('wall', (performance.now() - t0).toFixed(0));
process.exit(0);
