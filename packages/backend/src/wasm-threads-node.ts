/**
 * Multi-threaded tfjs-backend-wasm under Node (docs/tfjs-backends.md §1.3, §8.2).
 *
 * tfjs 4.22 hard-codes `WASM_HAS_MULTITHREAD_SUPPORT = false` in Node (tfjs issue #3830). The
 * threaded-SIMD binary itself runs fine on `worker_threads`; three things stand in the way, and this
 * file works around each one. No library does this, hence hand-written:
 *
 * 1. The pthread worker script is handed to `new Worker()` as a `blob:` URL, which Node rejects
 *    (`ERR_WORKER_PATH`). `Blob` is wrapped to remember its text, and `URL.createObjectURL` writes
 *    that script to a temp file and returns its path. Inside the worker the script would load the
 *    emscripten glue from a second blob; that branch is rewritten to `importScripts()` the glue
 *    file shipped in `wasm-out/` (the same code the blob holds).
 * 2. `backend.cc` caps the pool at `max(1, logical_cores / 2)` (it assumes SMT), which is 1 on a
 *    2-vCPU machine. `os.cpus()` reports `2 × threads` entries while the module instantiates.
 * 3. XNNPACK's pool threads never end, and emscripten `ref()`s a worker while its pthread runs, so
 *    Node would never exit. Every pthread worker is `unref()`ed and its `ref()` is a no-op; a timer
 *    keeps the loop alive only while the module loads. The main thread blocks on atomics while the
 *    pool computes, so no computation depends on the event loop.
 *
 * Everything is undone once the backend is up. The rewrite depends on the exact glue of
 * tfjs-backend-wasm 4.22.x and throws {@link BackendUnavailableError} when it does not match.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import workerThreads from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError } from '@selfpatch/nn';

const WORKER_LOAD_BRANCH =
  'if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}else{var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)}';

/** The subset of the `@tensorflow/tfjs-backend-wasm` module used here. */
export interface WasmModuleLike {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

/** Rewrites the pthread worker script so it loads the glue from a file (see the header, 1). */
export function rewriteWorkerScript(script: string, gluePath: string): string {
  if (!script.includes(WORKER_LOAD_BRANCH)) {
    throw new BackendUnavailableError(
      'wasm',
      'threaded wasm: the pthread worker script of @tensorflow/tfjs-backend-wasm does not have the expected shape ' +
        '(only 4.22.x is supported); run without --threads',
    );
  }
  return script.replace(WORKER_LOAD_BRANCH, `importScripts(${JSON.stringify(gluePath)});`);
}

function gluePath(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve('@tensorflow/tfjs-backend-wasm');
  return join(dirname(main), '..', 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
}

/**
 * Sets the wasm backend up with `threads` XNNPACK threads under Node and activates it. Call it
 * instead of `tf.setBackend('wasm')`, before the wasm backend was ever initialised in this process.
 * Returns the thread count the backend reports.
 */
export async function setWasmBackendThreaded(wasm: WasmModuleLike, threads: number): Promise<number> {
  const glue = gluePath();
  const tmp = mkdtempSync(join(os.tmpdir(), 'selfpatch-wasm-threads-'));
  const texts = new WeakMap<object, string>();
  const OrigBlob = globalThis.Blob;
  const origCreate = URL.createObjectURL.bind(URL);
  const origCpus = os.cpus;
  const OrigWorker = workerThreads.Worker;
  let rewriteError: unknown = null;

  class RecordingBlob extends OrigBlob {
    constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
      super(parts, options);
      if (parts?.every((p) => typeof p === 'string')) texts.set(this, parts.join(''));
    }
  }
  // emscripten `ref()`s a worker while it runs a pthread; XNNPACK's pool threads run forever.
  class UnrefWorker extends OrigWorker {
    constructor(file: string | URL, options?: workerThreads.WorkerOptions) {
      // The pthread script is plain CommonJS: do not inherit loaders or `--input-type` from the
      // main process (workers inherit `process.execArgv` by default).
      super(file, { ...options, execArgv: [] });
      this.unref();
    }
    override ref(): void {}
  }
  // One file serves the whole pool: every pthread worker gets the same script.
  let workerFile: string | null = null;
  const createObjectURL = (obj: Blob): string => {
    const text = texts.get(obj);
    if (text === undefined || !text.includes('importScripts')) return origCreate(obj);
    try {
      if (workerFile === null) {
        const file = join(tmp, 'pthread-worker.cjs');
        writeFileSync(file, rewriteWorkerScript(text, glue));
        workerFile = file;
      }
      return workerFile;
    } catch (err) {
      rewriteError = err;
      throw err;
    }
  };
  const realCpus = origCpus();
  const cpus = () => Array.from({ length: Math.max(realCpus.length, 2 * threads) }, (_, i) => realCpus[i % realCpus.length]!);

  globalThis.Blob = RecordingBlob;
  URL.createObjectURL = createObjectURL;
  os.cpus = cpus;
  (workerThreads as { Worker: typeof OrigWorker }).Worker = UnrefWorker;
  const keepAlive = setInterval(() => undefined, 1 << 30);
  try {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    wasm.setThreadsCount(threads);
    const ok = await tf.setBackend('wasm');
    if (rewriteError) throw rewriteError;
    if (!ok) throw new BackendUnavailableError('wasm', "threaded wasm: the 'wasm' backend failed to initialise");
    return wasm.getThreadsCount();
  } finally {
    clearInterval(keepAlive);
    globalThis.Blob = OrigBlob;
    URL.createObjectURL = origCreate;
    os.cpus = origCpus;
    (workerThreads as { Worker: typeof OrigWorker }).Worker = OrigWorker;
    // The workers have read their script by now (the module resolves after they all loaded).
    rmSync(tmp, { recursive: true, force: true });
  }
}
