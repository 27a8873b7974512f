/**
 * In-page half of bench/onnx-vit.ts: the same ViT-S/16 forward in Chromium's main thread on
 * tfjs-backend-wasm (selfpatch-ts) and on onnxruntime-web, interleaved, per batch size (`?batches=1,8`);
 * results on `window.bench`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { installWasmKernels, simdKernelBuild } from '@selfpatch/backend';
import { vitFromCheckpoint } from '@selfpatch/vit';
import { interleaved, onnxRunsPerRound } from '../stats.js';

interface Ort {
  env: { wasm: { numThreads: number; wasmPaths: string } };
  Tensor: new (type: string, data: Float32Array, dims: number[]) => unknown;
  InferenceSession: { create(bytes: Uint8Array, opts: object): Promise<{ run(feeds: Record<string, unknown>): Promise<Record<string, { data: Float32Array }>> }> };
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const rounds = Number(params.get('rounds') ?? 5);
  const size = 224;
  const ort = (await import(/* @vite-ignore */ '/ort/ort.wasm.min.mjs' as string)) as Ort;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = '/ort/';
  setWasmPaths('/tfjs/');
  await tf.setBackend('wasm');
  installWasmKernels(); // as initBackend('wasm') does in Node
  const [st, onnx] = await Promise.all(['/vit_small.safetensors', '/vit_small.onnx'].map(async (u) => new Uint8Array(await (await fetch(u)).arrayBuffer())));
  const vit = vitFromCheckpoint(st as Uint8Array, { source: 'vit_small.safetensors', config: { imgSize: size } });
  vit.eval();
  const session = await ort.InferenceSession.create(onnx as Uint8Array, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const batches = (params.get('batches') ?? '1').split(',').map(Number);
  const byBatch: Record<string, { tfjsMs: number[]; ortMs: number[]; maxDiff: number }> = {};
  for (const batch of batches) {
    const runs = onnxRunsPerRound(batch);
    const input = Float32Array.from({ length: batch * 3 * size * size }, (_, i) => Math.sin(i * 0.001));
    const feeds = { image: new ort.Tensor('float32', input, [batch, 3, size, size]) };
    const x = tf.tensor4d(input, [batch, 3, size, size]);
    const a = tf.tidy(() => (vit.forward(x) as tf.Tensor).dataSync());
    const b = (await session.run(feeds)).tokens?.data as Float32Array;
    let maxDiff = a.length === b.length ? 0 : Infinity;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs((a[i] as number) - (b[i] as number)));
    const timeTfjs = () => {
      const t0 = performance.now();
      for (let i = 0; i < runs; i++) tf.tidy(() => void (vit.forward(x) as tf.Tensor).dataSync());
      return (performance.now() - t0) / runs;
    };
    const timeOrt = async () => {
      const t0 = performance.now();
      for (let i = 0; i < runs; i++) await session.run(feeds);
      return (performance.now() - t0) / runs;
    };
    const { a: tfjsMs, b: ortMs } = await interleaved(timeTfjs, timeOrt, rounds);
    x.dispose();
    byBatch[batch] = { tfjsMs, ortMs, maxDiff };
  }
  (window as unknown as { bench: unknown }).bench = { byBatch, crossOriginIsolated, kernels: simdKernelBuild() };
}

main().catch((e: Error) => ((window as unknown as { bench: unknown }).bench = { error: e.message }));
