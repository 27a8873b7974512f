import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Regression: importing @selfpatch/nn before @tensorflow/tfjs-core let the bundled gradient
// registrations create the global engine, whose tensors had no ops (`clone` of null in backward).
test('gradients work when @selfpatch/nn is imported before tfjs-core', () => {
  const script = [
    "import { Linear } from '@selfpatch/nn';",
    "import * as tf from '@tensorflow/tfjs-core';",
    "await import('@tensorflow/tfjs-backend-cpu');",
    "await tf.setBackend('cpu');",
    'const lin = new Linear(3, 2);',
    'const x = tf.ones([4, 3]);',
    'const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(tf.reshape(tf.slice(lin.forward(x), [0, 0], [2, 2]), [4]))), lin.namedParameters().map(([, v]) => v));',
    'const y = x.clone();',
    'console.log(JSON.stringify({ loss: value.dataSync()[0], n: Object.keys(grads).length, coreTensor: x instanceof tf.Tensor && y instanceof tf.Tensor }));',
  ].join('\n');
  const out = execFileSync(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const res = JSON.parse(out.trim().split('\n').at(-1) as string) as { loss: number; n: number; coreTensor: boolean };
  assert.ok(Number.isFinite(res.loss));
  assert.ok(res.coreTensor, 'tensors must be instances of the real tfjs-core Tensor class (methods such as clone need its ops)');
  assert.equal(res.n, 2);
});
