import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import '@selfpatch/backend/testing';
import { initBackend, type ModuleImporter } from '../src/index.node.js';
import { BackendUnavailableError, ConfigError } from '@selfpatch/nn';

const realImporter: ModuleImporter = (s) => import(s);

/** Simulates a machine without the native bindings (as here: their install downloads a binary). */
const withoutNative: ModuleImporter = async (s) => {
  if (s.startsWith('@tensorflow/tfjs-node') || s === 'webgpu') throw new Error(`Cannot find package '${s}'`);
  return realImporter(s);
};

test('auto picks wasm when no native binding is installed, and says why', async () => {
  const info = await initBackend('auto', { importer: withoutNative });
  assert.equal(info.name, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.match(info.reason, /no native TensorFlow binding/);
});

test('auto picks tensorflow when a binding loads (simulated by registering a backend)', async () => {
  const fakeNode: ModuleImporter = async (s) => {
    if (s === '@tensorflow/tfjs-node-gpu') throw new Error('libcuda.so.1: cannot open shared object file');
    if (s === '@tensorflow/tfjs-node') {
      if (tf.findBackendFactory('tensorflow') === null) tf.registerBackend('tensorflow', () => new MathBackendCPU(), 0);
      return {};
    }
    return realImporter(s);
  };
  const info = await initBackend('auto', { importer: fakeNode });
  assert.deepEqual([info.name, tf.getBackend()], ['tensorflow', 'tensorflow']);
  assert.match(info.reason, /@tensorflow\/tfjs-node is installed/);
  tf.removeBackend('tensorflow');
});

test('auto falls back to cpu when wasm cannot load', async () => {
  const noWasm: ModuleImporter = async (s) => {
    if (s.startsWith('@tensorflow/tfjs-node') || s === '@tensorflow/tfjs-backend-wasm') throw new Error(`Cannot find package '${s}'`);
    return realImporter(s);
  };
  // The wasm backend is already registered in this process; hide it for this check.
  const factory = tf.findBackendFactory('wasm');
  tf.removeBackend('wasm');
  try {
    const info = await initBackend('auto', { importer: noWasm });
    assert.equal(info.name, 'cpu');
    assert.match(info.reason, /wasm unavailable/);
  } finally {
    if (factory) tf.registerBackend('wasm', factory, 2);
  }
});

test('an explicit tensorflow request without the binding fails with what to install', async () => {
  await assert.rejects(initBackend('tensorflow', { importer: withoutNative }), (err: unknown) => {
    assert.ok(err instanceof BackendUnavailableError);
    assert.match(err.message, /install @tensorflow\/tfjs-node-gpu \(CUDA\) or @tensorflow\/tfjs-node/);
    assert.match(err.message, /Cannot find package '@tensorflow\/tfjs-node'/);
    return true;
  });
});

test('explicit wasm and cpu work; an unknown choice is a ConfigError naming the option', async () => {
  assert.equal((await initBackend('cpu')).name, 'cpu');
  assert.equal((await initBackend('wasm')).name, 'wasm');
  await assert.rejects(initBackend('metal'), (err: unknown) => err instanceof ConfigError && /'backend'/.test(err.message) && /webgpu/.test(err.message));
});

/** x·xᵀ summed, and its gradient 2·(x + xᵀ)·1 ... computed on the active backend, read synchronously. */
function matmulAndGrad(): { y: number[]; g: number[] } {
  const x = tf.tensor2d([
    [1, 2, 3],
    [4, 5, 6],
    [7, 8, 10],
  ]);
  const y = tf.matMul(x, x);
  const g = tf.grad((v: tf.Tensor) => tf.sum(tf.matMul(v as tf.Tensor2D, v as tf.Tensor2D)))(x);
  const out = { y: Array.from(y.dataSync()), g: Array.from(g.dataSync()) };
  tf.dispose([x, y, g]);
  return out;
}

test('the native tensorflow backend (npm run setup:tfjs-node) computes values and gradients like cpu', async () => {
  await initBackend('cpu');
  const ref = matmulAndGrad();
  let installed = true;
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
  } catch {
    installed = false;
  }
  if (!installed && process.env.CI !== 'true') {
    // Without the optional peer, the request fails with what to install (never a crash).
    await assert.rejects(initBackend('tensorflow'), BackendUnavailableError);
    return;
  }
  const info = await initBackend('tensorflow');
  assert.equal(info.name, 'tensorflow');
  assert.deepEqual(matmulAndGrad(), ref);
});

test('webgpu: an explicit request may use a software adapter and says so; dataSync works in Node', async () => {
  await initBackend('cpu');
  const ref = matmulAndGrad();
  const info = await initBackend('webgpu');
  assert.equal(tf.getBackend(), 'webgpu');
  assert.ok(info.adapter, 'names the adapter');
  if (info.adapter.software) assert.match(info.reason, /software adapter: correct but far slower than wasm/);
  const got = matmulAndGrad();
  for (let i = 0; i < ref.y.length; i++) assert.ok(Math.abs((got.y[i] as number) - (ref.y[i] as number)) < 1e-4, `y[${i}]`);
  for (let i = 0; i < ref.g.length; i++) assert.ok(Math.abs((got.g[i] as number) - (ref.g[i] as number)) < 1e-4, `g[${i}]`);
  await initBackend('cpu');
});

test('auto never takes a software WebGPU adapter', async () => {
  const noNative: ModuleImporter = async (s) => {
    if (s.startsWith('@tensorflow/tfjs-node')) throw new Error(`Cannot find package '${s}'`);
    return realImporter(s);
  };
  const info = await initBackend('auto', { importer: noNative });
  if (info.name === 'webgpu') assert.equal(info.adapter?.software, false, `auto chose ${info.reason}`);
  else {
    assert.equal(info.name, 'wasm');
    assert.match(info.reason, /no WebGPU hardware adapter \((Dawn found no GPU adapter|only the software adapter|probing)/);
  }
});
