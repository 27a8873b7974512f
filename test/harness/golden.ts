/**
 * Golden-fixture harness (docs/golden-fixtures.md): loads `NAME.json` + `NAME.safetensors` from
 * `SELFPATCH_GOLDEN_DIR` (default `../shared/golden` from the repo root) and compares with the
 * manifest's per-tensor tolerances. Everything a test needs (shapes, dims, options) comes from
 * the manifest, so the same tests run on any fixture set in this format.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { onBackend } from './backend-tolerance.js';
import { parseSafetensors, type RawTensor } from '@selfpatch/checkpoint';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function goldenDir(): string {
  return resolve(process.env.SELFPATCH_GOLDEN_DIR ?? join(repoRoot, '..', 'shared', 'golden'));
}

export type Tolerance = { atol: number; rtol: number } | 'exact';

export interface TensorInfo {
  dtype: string;
  shape: number[];
  kind?: string;
  layout?: string;
  meaning?: string;
  tolerance?: Tolerance;
}

export interface Manifest {
  fixture: string;
  config?: Record<string, unknown>;
  /** Per-tensor table (SelfPatch/DINO fixtures). */
  tensors?: Record<string, TensorInfo>;
  tolerance?: { fixture_default_for_outputs?: { atol: number; rtol: number }; [k: string]: unknown };
  /** Per-group tolerances (Swin/MoBY fixtures): forward, loss, grad, after, ... */
  tolerance_float32?: Record<string, { atol: number; rtol: number } | string | number>;
  [k: string]: unknown;
}

/** Name prefixes that are not weights in fixtures without a per-tensor table. */
const NON_WEIGHT = /^(input|output|after|grad|index)\./;

export class Fixture {
  constructor(
    readonly name: string,
    readonly manifest: Manifest,
    readonly raw: Map<string, RawTensor>,
  ) {}

  get config(): Record<string, unknown> {
    return this.manifest.config ?? {};
  }

  has(name: string): boolean {
    return this.raw.has(name);
  }

  /** Names of the stored tensors starting with `prefix`. */
  names(prefix = ''): string[] {
    return [...this.raw.keys()].filter((k) => k.startsWith(prefix));
  }

  get(name: string): RawTensor {
    const t = this.raw.get(name);
    if (!t) throw new Error(`fixture ${this.name} has no tensor '${name}'`);
    return t;
  }

  /** A stored tensor as a tfjs tensor. */
  tensor(name: string): tf.Tensor {
    const t = this.get(name);
    return tf.tensor(t.data as Float32Array | Int32Array, t.shape, t.dtype === 'int32' ? 'int32' : 'float32');
  }

  /** Weights (kind=weight) with `prefix` stripped from their keys. */
  weights(prefix = ''): Record<string, RawTensor> {
    const out: Record<string, RawTensor> = {};
    const table = this.manifest.tensors;
    const hasKinds = table !== undefined && Object.values(table).some((t) => t.kind !== undefined);
    const keys = hasKinds ? Object.keys(table).filter((k) => table[k]?.kind === 'weight') : [...this.raw.keys()].filter((k) => !NON_WEIGHT.test(k));
    for (const k of keys) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = this.get(k);
    return out;
  }

  tolerance(name: string): Tolerance {
    const t = this.manifest.tensors?.[name]?.tolerance as Tolerance | string | undefined;
    // Manifests spell exact comparisons "exact" or with a comment ("exact (0/1)").
    if (typeof t === 'string') return t.startsWith('exact') ? 'exact' : (() => { throw new Error(`fixture ${this.name}: unknown tolerance '${t}' for '${name}'`); })();
    if (t !== undefined) return t;
    if (this.raw.get(name)?.dtype === 'int32') return 'exact';
    const groups = this.manifest.tolerance_float32;
    if (groups && typeof groups.atol === 'number') return groups as unknown as { atol: number; rtol: number };
    if (groups) {
      // Swin/MoBY manifests: tolerance per tensor group, chosen by the name's prefix.
      const group = name.startsWith('output.loss') ? 'loss' : (name.split('.')[0] as string);
      const g = groups[group === 'output' ? 'forward' : group] ?? groups.forward;
      if (g && typeof g === 'object') return g;
    }
    const d = this.manifest.tolerance?.fixture_default_for_outputs;
    if (!d) throw new Error(`fixture ${this.name}: no tolerance for '${name}'`);
    return d;
  }
}

const cache = new Map<string, Fixture>();

/**
 * Loads a fixture, or skips the test when it is absent locally. With `CI=true` a missing fixture
 * throws (missing data is a failure in CI, never a skip).
 */
export function loadFixture(t: TestContext, name: string): Fixture | null {
  const dir = goldenDir();
  const json = join(dir, `${name}.json`);
  const st = join(dir, `${name}.safetensors`);
  if (!existsSync(json) || !existsSync(st)) {
    if (process.env.CI === 'true') throw new Error(`golden fixture '${name}' missing in ${dir} (CI=true: this is a failure)`);
    t.skip(`golden fixture '${name}' not found in ${dir}`);
    return null;
  }
  const key = `${dir}/${name}`;
  let fx = cache.get(key);
  if (!fx) {
    const manifest = JSON.parse(readFileSync(json, 'utf8')) as Manifest;
    fx = new Fixture(name, manifest, parseSafetensors(readFileSync(st), { source: st }).tensors);
    cache.set(key, fx);
  }
  return fx;
}

export interface CloseReport {
  ok: boolean;
  worst: number;
  worstIndex: number;
  maxAbs: number;
  message: string;
}

/** `|a − e| ≤ atol + rtol·|e|` element-wise (or exact equality); returns the worst violation ratio. */
export function compare(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance): CloseReport {
  if (actual.length !== expected.length) {
    return { ok: false, worst: Infinity, worstIndex: -1, maxAbs: Infinity, message: `length ${actual.length} != ${expected.length}` };
  }
  let worst = 0;
  let worstIndex = -1;
  let maxAbs = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    const diff = Math.abs(a - e);
    if (!(diff <= maxAbs)) maxAbs = Number.isNaN(diff) ? Infinity : Math.max(maxAbs, diff);
    const bound = tol === 'exact' ? 0 : tol.atol + tol.rtol * Math.abs(e);
    const ratio = bound === 0 ? (diff === 0 ? 0 : Infinity) : diff / bound;
    if (!(ratio <= worst)) {
      worst = Number.isNaN(ratio) ? Infinity : ratio;
      worstIndex = i;
    }
  }
  const ok = worst <= 1;
  const message = ok
    ? `ok (max |diff| ${maxAbs.toExponential(2)}, ${(worst * 100).toFixed(1)}% of tolerance)`
    : `max |diff| ${maxAbs.toExponential(3)}; worst element ${worstIndex}: actual ${actual[worstIndex]} expected ${expected[worstIndex]} (${worst.toFixed(2)}x tolerance ${JSON.stringify(tol)})`;
  return { ok, worst, worstIndex, maxAbs, message };
}

/** Asserts that `actual` matches fixture tensor `name` within its manifest tolerance. */
export function expectClose(fx: Fixture, name: string, actual: tf.Tensor | ArrayLike<number>, label = ''): CloseReport {
  const exp = fx.get(name);
  if (actual instanceof tf.Tensor) {
    const same = actual.shape.length === exp.shape.length && actual.shape.every((d, i) => d === exp.shape[i]);
    if (!same) throw new Error(`${fx.name}/${name}${label}: shape [${actual.shape.join(',')}] != expected [${exp.shape.join(',')}]`);
  }
  const values = actual instanceof tf.Tensor ? actual.dataSync() : actual;
  const report = compare(values, exp.data as ArrayLike<number>, onBackend(fx.tolerance(name)));
  if (!report.ok) throw new Error(`${fx.name}/${name}${label}: ${report.message}`);
  return report;
}

/** Sorts the last axis of an int tensor's rows (top-k sets compare as sets). */
export function sortRows(values: ArrayLike<number>, rowLength: number): Int32Array {
  const out = Int32Array.from(values);
  for (let i = 0; i < out.length; i += rowLength) out.subarray(i, i + rowLength).sort();
  return out;
}
