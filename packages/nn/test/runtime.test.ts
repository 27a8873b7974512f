import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import '@selfpatch/nn/testing';
import { initBackend, type ModuleImporter } from '../src/runtime.js';
import { BackendUnavailableError, ConfigError } from '../src/index.js';

const realImporter: ModuleImporter = (s) => import(s);

/** Simulates a machine without the native bindings (as here: their install downloads a binary). */
const withoutNative: ModuleImporter = async (s) => {
  if (s.startsWith('@tensorflow/tfjs-node')) throw new Error(`Cannot find package '${s}'`);
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
  await assert.rejects(initBackend('webgpu'), (err: unknown) => err instanceof ConfigError && /'backend'/.test(err.message));
});

test('the real tensorflow import fails cleanly here (the optional peer is not installed)', async () => {
  await assert.rejects(initBackend('tensorflow'), BackendUnavailableError);
});
