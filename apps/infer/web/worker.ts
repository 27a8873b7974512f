/**
 * Compute worker of the browser app: every tensor op runs here, on WebGPU when the page has a
 * hardware adapter (`?backend=webgpu` also takes a software one, `?backend=wasm` skips it), else on
 * tfjs-backend-wasm (SIMD; threads when the page is cross-origin isolated, `?threads=N` to ask for
 * N), so the UI thread stays responsive. Same library code as
 * the Node CLI: checkpoint loading, the DAVIS frame transform, the propagation loop and the
 * davis2017-evaluation scoring, so results match the CLI on the same input.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { initBackend, type InitBackendOptions } from '@selfpatch/backend';
import { decodeImage, decodeMask, pilResize, toNormalizedCHW } from '@selfpatch/data';
import { attentionMaps, loadBackbone, pcaRgb, propagateVideo, scoreSequence, summarizeScores, type DenseBackbone } from '@selfpatch/eval';
import type { BackendRequest, LoadResult, PropagateResult, Request, Response, VisualizeResult } from './protocol.js';

let net: DenseBackbone | null = null;
let ready: Promise<void> | null = null;

function post(msg: Response, transfer: Transferable[] = []): void {
  (self as unknown as Worker).postMessage(msg, transfer);
}

let backendNote = '';
/** The WebGPU adapter is a software one (SwiftShader, llvmpipe, WARP). */
let softwareGpu = false;
let model: { bytes: Uint8Array; name: string } | null = null;

/** tfjs-backend-wasm's binaries as Vite serves them (hashed names). */
const WASM_PATHS = { 'tfjs-backend-wasm.wasm': wasmPlain, 'tfjs-backend-wasm-simd.wasm': wasmSimd, 'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded };

let requestedThreads: number | undefined;

function wasmOptions(threads: number | undefined): InitBackendOptions {
  return { wasmPaths: WASM_PATHS, threads: threads !== undefined && crossOriginIsolated ? threads : 1 };
}

let wasmStarted = false;

/** WebAssembly with our kernels (as Node's `initBackend('wasm')`); later calls only switch to it. */
async function startWasm(threads: number | undefined): Promise<void> {
  if (wasmStarted) {
    if (!(await tf.setBackend('wasm'))) throw new Error('the WebAssembly backend could not start in this browser');
    return;
  }
  await initBackend('wasm', wasmOptions(threads));
  wasmStarted = true;
}

/**
 * `auto`: WebGPU on a hardware adapter, else WebAssembly; `webgpu` also takes a software adapter
 * (and names it); `wasm` skips WebGPU.
 */
async function backend(threads: number | undefined, choice: BackendRequest): Promise<void> {
  requestedThreads = threads;
  ready ??= (async () => {
    const info = await initBackend(choice, wasmOptions(threads));
    if (info.name === 'wasm') wasmStarted = true;
    softwareGpu = info.adapter?.software ?? false;
    backendNote = info.adapter
      ? `${info.adapter.name}${softwareGpu ? ' (software adapter: for testing, slower than WebAssembly; mask propagation runs on WebAssembly)' : ''}`
      : info.reason;
  })();
  return ready;
}

/**
 * Runs host-side post-processing (which reads values synchronously) on data downloaded with the
 * async API. On WebGPU a synchronous read goes through tfjs's OffscreenCanvas path, which returned
 * wrong values on Chromium's SwiftShader adapter; downloading first and finishing on the cpu
 * backend avoids that path (and a pipeline stall per read).
 */
async function readable<T>(inputs: tf.Tensor[], fn: () => T): Promise<T> {
  const gpu = tf.getBackend();
  if (gpu !== 'webgpu') return fn();
  await Promise.all(inputs.map((t) => t.data()));
  await tf.setBackend('cpu');
  try {
    return fn();
  } finally {
    await tf.setBackend(gpu);
  }
}

async function load(bytes: ArrayBuffer, name: string, threads: number | undefined, choice: BackendRequest): Promise<LoadResult> {
  await backend(threads, choice);
  net?.dispose();
  net = null;
  model = { bytes: new Uint8Array(bytes), name };
  net = loadBackbone(model.bytes, name);
  return { description: net.description, kind: net.kind, stride: net.stride, backend: tf.getBackend(), threads: tf.getBackend() === 'wasm' ? getThreadsCount() : 1, backendNote };
}

async function visualize(image: ArrayBuffer, name: string, size: number): Promise<VisualizeResult> {
  if (!net) throw new Error('load a checkpoint first');
  const img = await decodeImage(new Uint8Array(image), { source: name });
  const s = Math.max(net.stride, Math.round(size / net.stride) * net.stride);
  const resized = pilResize(img, s, s, 'bicubic');
  const x = tf.tensor4d(toNormalizedCHW(resized), [1, 3, s, s]);
  try {
    const { feats, h, w } = net.features(x);
    const pca = await readable([feats], () => pcaRgb(feats));
    feats.dispose();
    let heads: Float32Array[] = [];
    let mean: Float32Array | null = null;
    if (net.kind === 'vit') {
      const attn = net.attention(x);
      const maps = await readable([attn], () => attentionMaps(attn, { h, w }, attn.shape[2] === h * w + 1));
      attn.dispose();
      heads = maps.heads;
      mean = maps.mean;
    }
    return { h, w, size: s, heads, mean, pca, rgb: resized.data };
  } finally {
    x.dispose();
  }
}

async function propagate(id: number, req: Extract<Request, { kind: 'propagate' }>): Promise<PropagateResult> {
  if (!net) throw new Error('load a checkpoint first');
  const frames = req.frames.map((f) => () => decodeImage(new Uint8Array(f.bytes), { source: f.name }));
  const labels: Uint8Array[] = [req.mask.labels];
  const t0 = performance.now();
  // Propagation reads values synchronously every frame; on Chromium's SwiftShader WebGPU adapter
  // that lost the device mid-video. With a software adapter it runs on WebAssembly instead (a
  // copy of the model there), which is also faster than a software GPU.
  const onWasm = tf.getBackend() === 'webgpu' && softwareGpu && model !== null;
  let runNet = net;
  if (onWasm && model) {
    await startWasm(requestedThreads);
    runNet = loadBackbone(model.bytes, model.name);
  }
  try {
    for await (const r of propagateVideo(runNet, req.mask, frames, { shortSide: req.shortSide })) {
      labels.push(r.labels);
      post({ id, kind: 'progress', done: r.index, total: req.frames.length - 1, label: req.frames[r.index]?.name ?? '' });
    }
  } finally {
    if (onWasm) {
      runNet.dispose();
      await tf.setBackend('webgpu');
    }
  }
  const msPerFrame = (performance.now() - t0) / Math.max(1, req.frames.length - 1);
  let scores: Record<string, number> | null = null;
  if (req.gt && req.gt.length > 0) {
    if (req.gt.length !== req.frames.length) throw new Error(`${req.gt.length} ground-truth masks for ${req.frames.length} frames`);
    const gt = req.gt.map((g) => decodeMask(new Uint8Array(g.bytes), g.name));
    const preds = labels.slice(1, -1).map((l) => ({ width: req.mask.width, height: req.mask.height, labels: l }));
    scores = summarizeScores(scoreSequence('video', gt, preds)).global;
  }
  return { width: req.mask.width, height: req.mask.height, labels, scores, msPerFrame };
}

self.onmessage = async (ev: MessageEvent<Request>) => {
  const req = ev.data;
  try {
    let result: LoadResult | VisualizeResult | PropagateResult;
    if (req.kind === 'load') result = await load(req.bytes, req.name, req.threads, req.backend ?? 'auto');
    else if (req.kind === 'visualize') result = await visualize(req.image, req.name, req.size);
    else result = await propagate(req.id, req);
    post({ id: req.id, kind: 'done', result });
  } catch (err) {
    post({ id: req.id, kind: 'error', message: (err as Error).message ?? String(err) });
  }
};
