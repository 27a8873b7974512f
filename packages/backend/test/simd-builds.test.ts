import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { use } from '@selfpatch/backend/testing';
import { Linear } from '@selfpatch/nn';
import { setSimdKernelBuild, simdKernelBuild } from '../src/simd-kernels.js';

const cwd = fileURLToPath(new URL('..', import.meta.url));
/** Node 20 has relaxed SIMD behind a flag (on by default from Node 22, where the flag is gone). */
const relaxedFlag = Number(process.versions.node.split('.')[0]) < 22 ? ['--experimental-wasm-relaxed-simd'] : [];
/** Whether this process's runtime has relaxed SIMD (by Node version and flags, not by the code under test). */
const hereRelaxed = relaxedFlag.length === 0 || process.execArgv.includes('--experimental-wasm-relaxed-simd');

/** The wasm kernel tests (this package's, including the threaded ones) on one build of the kernels. */
function kernelTestsOn(build: 'simd' | 'relaxed-simd'): void {
  const r = spawnSync(process.execPath, [...relaxedFlag, '--conditions=source', '--import', 'tsx', '--test', 'test/wasm-kernels.test.ts', 'test/wasm-threads.test.ts'], {
    cwd,
    encoding: 'utf8',
    // Without the parent runner's NODE_TEST_CONTEXT, so the child reports in text.
    env: { ...process.env, NODE_TEST_CONTEXT: undefined, SELFPATCH_TEST_SIMD_BUILD: build },
    timeout: 300_000,
  });
  assert.equal(r.status, 0, `${build}: ${r.stdout.slice(-3000)}${r.stderr.slice(-1000)}`);
  assert.match(r.stdout, /# fail 0/);
  assert.doesNotMatch(r.stdout, /# pass 0\b/);
}

// The plain run of this package's tests covers the build this runtime picks by itself (SIMD128 on
// Node 20, relaxed SIMD from Node 22); this runs them on the other one.
const other = hereRelaxed && relaxedFlag.length === 0 ? 'simd' : 'relaxed-simd';
test(`the wasm kernel tests pass on the ${other} build too`, () => kernelTestsOn(other));

test('setSimdKernelBuild: typed errors, and a switch takes effect on the next call with results within float rounding', async () => {
  assert.throws(() => setSimdKernelBuild('avx'), { name: 'ConfigError', message: /simd.*auto, simd, relaxed-simd.*"avx"/s });
  await use('wasm');
  const before = simdKernelBuild();
  const x = tf.randomNormal([37, 384], 0, 1, 'float32', 3);
  const fc = new Linear(384, 200);
  fc.eval();
  const outOn = (build: 'simd' | 'relaxed-simd'): Float32Array => {
    assert.equal(setSimdKernelBuild(build), build);
    assert.equal(simdKernelBuild(), build);
    return tf.tidy(() => fc.forward(x).dataSync() as Float32Array);
  };
  try {
    const plain = outOn('simd');
    // Without the runtime feature the relaxed build must be refused, not silently replaced.
    if (!hereRelaxed) {
      assert.throws(() => setSimdKernelBuild('relaxed-simd'), { name: 'ConfigError', message: /relaxed SIMD/ });
      assert.equal(simdKernelBuild(), 'simd');
      return;
    }
    const fused = outOn('relaxed-simd');
    let worst = 0;
    for (let i = 0; i < plain.length; i++) worst = Math.max(worst, Math.abs((plain[i] as number) - (fused[i] as number)));
    assert.ok(worst < 1e-5, `simd vs relaxed-simd: ${worst}`);
  } finally {
    setSimdKernelBuild(before);
    x.dispose();
  }
});
