/**
 * Node only: the SIMD kernels (simd-kernels.ts) on more than one thread, for `initBackend('wasm',
 * { threads: N })`. XNNPACK spreads only matrix products and convolutions over its pthreads
 * (docs/tfjs-backends.md §1.3); a 2-thread ViT-Ti training step still spent ~1.5 s in single-threaded
 * elementwise kernels (GELU above all). Here N − 1 `worker_threads` instantiate the shared-memory
 * build of the kernels on the main thread's memory, and large elementwise and row-wise calls
 * (GELU, exp, AdamW, EMA; transposes, LayerNorm forward, the attention softmax) are split in N parts,
 * the attention core by (batch·head) slices.
 *
 * Why by hand: the hand-off has to be synchronous (tfjs kernels are synchronous), so it is a
 * `SharedArrayBuffer` mailbox per worker with `Atomics.wait`/`notify` (~10 µs), which no pool
 * library offers. Workers are unref'd and never hold the process open.
 */
import { Worker } from 'node:worker_threads';
import { SelfPatchError } from '@selfpatch/nn';
import { POOL_KERNELS, type EntryPoint } from './simd-entry-points.js';
import { sharedKernelModule, useSharedKernels, type KernelPool } from './simd-kernels.js';

/** Mailbox layout: Int32 [state, name index, argc, failed] then Float64 args. */
const ARGS_OFFSET = 16;
const MAX_ARGS = 24;
const IDLE = 0;
const BUSY = 1;
const STOP = 2;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { module, memory, mailbox, names } = workerData;
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
const st = new Int32Array(mailbox, 0, 4);
const args = new Float64Array(mailbox, ${ARGS_OFFSET}, ${MAX_ARGS});
parentPort.postMessage('ready');
for (;;) {
  Atomics.wait(st, 0, ${IDLE});
  if (Atomics.load(st, 0) === ${STOP}) break;
  try {
    exports[names[st[1]]](...Array.from(args.subarray(0, st[2])));
  } catch (e) {
    st[3] = 1;
  }
  Atomics.store(st, 0, ${IDLE});
  Atomics.notify(st, 0);
}
`;

/** A kernel on a worker failed (a wasm trap): its part of the output is not valid. */
export class KernelThreadError extends SelfPatchError {
  constructor(readonly kernel: string) {
    super(`SIMD kernel '${kernel}' failed on a worker thread`);
  }
}


class WorkerPool implements KernelPool {
  private readonly boxes: Array<{ st: Int32Array; args: Float64Array }>;

  constructor(
    private readonly workers: Worker[],
    mailboxes: SharedArrayBuffer[],
  ) {
    this.boxes = mailboxes.map((m) => ({ st: new Int32Array(m, 0, 4), args: new Float64Array(m, ARGS_OFFSET, MAX_ARGS) }));
  }

  get size(): number {
    return this.workers.length + 1;
  }

  run(name: EntryPoint, jobs: number[][], local: (args: number[]) => void): void {
    const index = POOL_KERNELS.indexOf(name);
    if (index < 0) throw new Error(`no worker entry for kernel ${name}`);
    const posted = jobs.slice(1).map((job, w) => {
      const box = this.boxes[w] as { st: Int32Array; args: Float64Array };
      box.args.set(job);
      box.st[1] = index;
      box.st[2] = job.length;
      box.st[3] = 0;
      Atomics.store(box.st, 0, BUSY);
      Atomics.notify(box.st, 0);
      return box;
    });
    local(jobs[0] as number[]);
    for (const box of posted) {
      while (Atomics.load(box.st, 0) === BUSY) Atomics.wait(box.st, 0, BUSY);
      if (box.st[3] !== 0) throw new KernelThreadError(name);
    }
  }

  stop(): void {
    for (const box of this.boxes) {
      Atomics.store(box.st, 0, STOP);
      Atomics.notify(box.st, 0);
    }
  }
}

let started: WorkerPool | null = null;

/**
 * Runs the SIMD kernels on `threads` threads (this one and `threads − 1` workers). Idempotent for
 * the same count.
 *
 * @example
 * ```ts
 * await startSimdKernelThreads(2); // initBackend('wasm', { threads: 2 }) does this in Node
 * ```
 */
export async function startSimdKernelThreads(threads: number): Promise<void> {
  if (started?.size === threads) return;
  started?.stop();
  started = null;
  const module = sharedKernelModule();
  // 16 pages to start; the kernels grow it to their largest call (elementwise ones in 1M-element chunks).
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 2 ** 14, shared: true });
  if (threads <= 1) {
    useSharedKernels(module, memory, null);
    return;
  }
  const mailboxes = Array.from({ length: threads - 1 }, () => new SharedArrayBuffer(ARGS_OFFSET + 8 * MAX_ARGS));
  const workers = mailboxes.map(
    (mailbox) => new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { module, memory, mailbox, names: POOL_KERNELS } }),
  );
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          w.once('message', () => resolve());
          w.once('error', reject);
        }),
    ),
  );
  for (const w of workers) w.unref();
  started = new WorkerPool(workers, mailboxes);
  useSharedKernels(module, memory, started);
}
