/**
 * Multi-crop batch loader (Node). Each epoch visits the files in a seeded permutation; a batch takes
 * the next `batchSize` files that decode, so corrupt, truncated, empty or absurd files are skipped,
 * counted and reported with their paths and never stop a run. `drop_last` semantics. The state
 * `{epoch, cursor}` resumes mid-epoch exactly, because every sample's augmentation RNG is derived
 * from (seed, epoch, slot). Decoding and augmentation run in worker threads, a few samples ahead of
 * the consumer, so they overlap the training step.
 *
 * Hand-written: the determinism-under-parallelism and resumability contract is specific to
 * training runs that must continue bit-exactly; generic pools do not provide it.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ConfigError, Rng } from '@selfpatch/nn/base';
import { runJob, type Job, type JobResult, type RecipeSpec } from './augment-job.js';

export interface LoaderState {
  epoch: number;
  /** Next slot of the epoch's permutation. */
  cursor: number;
}

export interface Batch {
  epoch: number;
  /** Per crop index: `[B, 3, s, s]` values (crop-major lists like the reference's loader). */
  crops: Float32Array[];
  sizes: number[];
  batchSize: number;
  paths: string[];
}

export interface SkippedFile {
  path: string;
  reason: string;
  epoch: number;
}

export interface LoaderOptions {
  files: string[];
  batchSize: number;
  seed: number;
  recipe: RecipeSpec;
  /** Worker threads (default: cores − 1, at most 4; 0 = in-process). */
  workers?: number;
  /** Samples in flight ahead of the consumer (default 2 batches). */
  prefetch?: number;
  maxPixels?: number;
  /** Called once per file the first time it cannot be used (reports, logs). */
  onSkip?: (file: SkippedFile) => void;
}

/** Fewer files decode than one batch needs: training could never take a step. */
export class NotEnoughImagesError extends ConfigError {
  constructor(
    readonly total: number,
    readonly skipped: SkippedFile[],
    readonly batchSize: number,
  ) {
    const usable = total - skipped.length;
    const shown = skipped.slice(0, 5).map((f) => `${f.path}: ${f.reason}`);
    if (skipped.length > shown.length) shown.push(`... (${skipped.length} in all)`);
    super(
      'batch_size',
      `only ${usable} of the ${total} image files decode, fewer than batch_size ${batchSize}; ` +
        `${usable > 0 ? `lower batch_size to at most ${usable}` : 'no file is usable'}, or fix or add images. Skipped: ${shown.join('; ')}`,
    );
  }
}

/**
 * @example
 * ```ts
 * const { samples } = imageFolder('photos');
 * const loader = new DataLoader({ files: samples.map((s) => s.path), batchSize: 8, seed: 0,
 *   recipe: { kind: 'multicrop', options: SELFPATCH_MULTICROP } });
 * const batch = await loader.next(); // batch.crops[0]: [8, 3, 224, 224]
 * await loader.close();
 * ```
 */
export class DataLoader {
  private readonly opts: Required<Omit<LoaderOptions, 'maxPixels' | 'onSkip'>> & Pick<LoaderOptions, 'maxPixels' | 'onSkip'>;
  private state: LoaderState = { epoch: 0, cursor: 0 };
  private order: Int32Array = new Int32Array(0);
  private orderEpoch = -1;
  private readonly pending = new Map<number, Promise<JobResult>>();
  private readonly workers: Worker[] = [];
  /** Jobs in flight per worker: a worker keeps the process alive only while it has work. */
  private readonly inflight: number[] = [];
  private readonly callbacks = new Map<number, { resolve: (r: JobResult) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private rr = 0;
  /** Files that failed to decode, by index into `files` (reported once each, in order found). */
  private readonly bad = new Map<number, SkippedFile>();

  constructor(options: LoaderOptions) {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new ConfigError('batch_size', `must be a positive integer, got ${options.batchSize}`);
    if (options.files.length < options.batchSize) throw new ConfigError('batch_size', `${options.batchSize} exceeds the ${options.files.length} files`);
    const workers = options.workers ?? Math.min(4, Math.max(0, availableParallelism() - 1));
    this.opts = { workers, prefetch: 2 * options.batchSize, ...options };
    for (let i = 0; i < workers; i++) {
      const w = spawnWorker();
      this.inflight.push(0);
      w.on('message', (m: { id: number; res: JobResult }) => {
        this.callbacks.get(m.id)?.resolve(m.res);
        this.callbacks.delete(m.id);
        this.inflight[i] = (this.inflight[i] as number) - 1;
        if (this.inflight[i] === 0) w.unref();
      });
      // A crashed worker fails the waiting batch loudly instead of hanging the run.
      w.on('error', (err) => {
        for (const cb of this.callbacks.values()) cb.reject(new Error(`data loader worker failed: ${err.message}`));
        this.callbacks.clear();
      });
      w.unref();
      this.workers.push(w);
    }
  }

  /** Each file that could not be used, once, with the first epoch it failed in and why. */
  get skipped(): SkippedFile[] {
    return [...this.bad.values()];
  }

  /** Full batches per epoch if no file is bad. */
  get batchesPerEpoch(): number {
    return Math.floor(this.opts.files.length / this.opts.batchSize);
  }

  getState(): LoaderState {
    return { ...this.state };
  }

  /** Resumes at a saved position (drops any prefetched work). */
  setState(s: LoaderState): void {
    this.pending.clear();
    this.state = { ...s };
  }

  private permutation(epoch: number): Int32Array {
    if (this.orderEpoch !== epoch) {
      const idx = Array.from({ length: this.opts.files.length }, (_, i) => i);
      new Rng(this.opts.seed).fork(`order:${epoch}`).shuffle(idx);
      this.order = Int32Array.from(idx);
      this.orderEpoch = epoch;
    }
    return this.order;
  }

  private submit(epoch: number, slot: number): Promise<JobResult> {
    const key = epoch * 1e9 + slot;
    const existing = this.pending.get(key);
    if (existing) return existing;
    const job: Job = { path: this.opts.files[this.permutation(epoch)[slot] as number] as string, seed: this.opts.seed, epoch, slot, recipe: this.opts.recipe, maxPixels: this.opts.maxPixels };
    let p: Promise<JobResult>;
    if (this.workers.length === 0) p = runJob(job);
    else {
      const id = this.nextId++;
      const wi = this.rr++ % this.workers.length;
      const w = this.workers[wi] as Worker;
      if (this.inflight[wi] === 0) w.ref();
      this.inflight[wi] = (this.inflight[wi] as number) + 1;
      p = new Promise<JobResult>((resolve, reject) => this.callbacks.set(id, { resolve, reject }));
      w.postMessage({ id, job });
    }
    this.pending.set(key, p);
    return p;
  }

  /** The next batch; moves to the next epoch when fewer than a batch of files remain. */
  async next(): Promise<Batch> {
    const n = this.opts.files.length;
    const b = this.opts.batchSize;
    for (;;) {
      const { epoch } = this.state;
      let cursor = this.state.cursor;
      const got: Array<{ path: string; sizes: number[]; views: Float32Array[] }> = [];
      while (got.length < b && cursor < n) {
        // Keep the pipeline full ahead of what is consumed.
        for (let s = cursor; s < Math.min(n, cursor + this.opts.prefetch); s++) void this.submit(epoch, s);
        const res = await this.submit(epoch, cursor);
        this.pending.delete(epoch * 1e9 + cursor);
        const fileIndex = this.permutation(epoch)[cursor] as number;
        if (res.ok) got.push({ path: this.opts.files[fileIndex] as string, sizes: res.sizes, views: res.views });
        else if (!this.bad.has(fileIndex)) {
          const skip = { path: res.path, reason: res.reason, epoch };
          this.bad.set(fileIndex, skip);
          this.opts.onSkip?.(skip);
        }
        cursor++;
      }
      if (got.length === b) {
        this.state = { epoch, cursor };
        return assemble(epoch, got);
      }
      // Not enough good files left in this epoch (drop_last): next epoch; forget its prefetches.
      for (const key of this.pending.keys()) if (Math.floor(key / 1e9) === epoch) this.pending.delete(key);
      this.state = { epoch: epoch + 1, cursor: 0 };
      // Decoding is deterministic: with fewer usable files than a batch, no epoch can ever fill one.
      if (n - this.bad.size < b) throw new NotEnoughImagesError(n, this.skipped, b);
    }
  }

  async close(): Promise<void> {
    // Let prefetched jobs finish first: terminating a worker in the middle of a sharp (libvips)
    // call can leave terminate() pending forever. An idle worker is unref'd, so ref it while it
    // exits, or an `await close()` with nothing else pending would end the process mid-await.
    await Promise.allSettled([...this.pending.values()]);
    this.pending.clear();
    for (const w of this.workers) w.ref();
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}

/**
 * The worker entry: the compiled `.js` next to this file, or — when running from TypeScript
 * sources under tsx (tests, development) — the `.ts` file loaded after registering tsx in the
 * worker, since loader hooks are not inherited by worker threads.
 */
function spawnWorker(): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./loader-worker.js', here));
  const entry = new URL('./loader-worker.ts', here).href;
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true });
}

function assemble(epoch: number, items: Array<{ path: string; sizes: number[]; views: Float32Array[] }>): Batch {
  const sizes = (items[0] as { sizes: number[] }).sizes;
  const crops = sizes.map((s, c) => {
    const per = 3 * s * s;
    const out = new Float32Array(items.length * per);
    items.forEach((it, i) => out.set(it.views[c] as Float32Array, i * per));
    return out;
  });
  return { epoch, crops, sizes, batchSize: items.length, paths: items.map((i) => i.path) };
}
