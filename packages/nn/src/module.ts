/**
 * Module base class: owns `tf.Variable`s registered under their PyTorch `state_dict` keys
 * (docs/architecture.md §2 "Names are the interface"), composes child modules by name, and loads/saves state
 * dicts with strict checking.
 */
import * as tf from '@tensorflow/tfjs-core';
import { StateDictError, type ShapeMismatch } from './errors.js';
import type { RawTensor } from '@selfpatch/checkpoint';
import { rawToTensor } from './raw-tensor.js';

/** A state-dict value: a tfjs tensor or a raw tensor read from a checkpoint file. */
export type TensorLike = tf.Tensor | RawTensor;

/** A state dict: PyTorch key → tensor. */
export type StateDict = Record<string, TensorLike>;

export interface LoadStateDictOptions {
  /** Throw on missing or unexpected keys (shape mismatches always throw). Default true. */
  strict?: boolean;
  /** Shown in error messages, e.g. the checkpoint path. */
  context?: string;
}

export interface LoadStateDictResult {
  missing: string[];
  unexpected: string[];
}

let variableCounter = 0;

export abstract class Module {
  /** Train mode enables stochastic depth and other train-only behaviour. */
  training = true;
  private readonly params = new Map<string, tf.Variable>();
  private readonly buffers = new Map<string, tf.Tensor>();
  private readonly children = new Map<string, Module>();

  /** Registers a parameter (takes ownership of `init`). */
  protected addParameter(name: string, init: tf.Tensor, trainable = true): tf.Variable {
    if (this.params.has(name) || this.buffers.has(name) || this.children.has(name)) {
      throw new Error(`duplicate member '${name}'`);
    }
    const v = tf.variable(init, trainable, `${name}__${++variableCounter}`);
    init.dispose();
    this.params.set(name, v);
    return v;
  }

  /** Registers a persistent buffer (saved in the state dict, never trained). Takes ownership. */
  protected addBuffer(name: string, value: tf.Tensor): tf.Tensor {
    const kept = tf.keep(value);
    this.buffers.set(name, kept);
    return kept;
  }

  /** Replaces a buffer's value (disposing the old one). */
  protected setBuffer(name: string, value: tf.Tensor): void {
    const old = this.buffers.get(name);
    if (old === undefined) throw new Error(`unknown buffer '${name}'`);
    this.buffers.set(name, tf.keep(value));
    if (old !== value) old.dispose();
  }

  /** Registers a child module under `name` (dot-separated keys are allowed, e.g. `blocks.3`). */
  protected addModule<M extends Module>(name: string, module: M): M {
    if (this.children.has(name) || this.params.has(name)) throw new Error(`duplicate member '${name}'`);
    this.children.set(name, module);
    return module;
  }

  /** Current value of a buffer. */
  protected buffer(name: string): tf.Tensor {
    const b = this.buffers.get(name);
    if (b === undefined) throw new Error(`unknown buffer '${name}'`);
    return b;
  }

  /** `[key, variable]` pairs in registration order, keys prefixed like PyTorch's. */
  namedParameters(prefix = ''): Array<[string, tf.Variable]> {
    const out: Array<[string, tf.Variable]> = [];
    for (const [n, v] of this.params) out.push([prefix + n, v]);
    for (const [n, m] of this.children) out.push(...m.namedParameters(`${prefix}${n}.`));
    return out;
  }

  namedBuffers(prefix = ''): Array<[string, tf.Tensor]> {
    const out: Array<[string, tf.Tensor]> = [];
    for (const [n, b] of this.buffers) out.push([prefix + n, b]);
    for (const [n, m] of this.children) out.push(...m.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  /** Trainable variables (what an optimizer updates). */
  trainableVariables(): tf.Variable[] {
    return this.namedParameters().filter(([, v]) => v.trainable).map(([, v]) => v);
  }

  /** Number of scalar parameters. */
  numParameters(trainableOnly = false): number {
    return this.namedParameters()
      .filter(([, v]) => !trainableOnly || v.trainable)
      .reduce((n, [, v]) => n + v.size, 0);
  }

  /** Parameters and buffers by PyTorch key. The tensors are the live ones: do not dispose them. */
  stateDict(prefix = ''): Record<string, tf.Tensor> {
    const sd: Record<string, tf.Tensor> = {};
    for (const [k, v] of this.namedParameters(prefix)) sd[k] = v;
    for (const [k, b] of this.namedBuffers(prefix)) sd[k] = b;
    return sd;
  }

  /**
   * Copies values from a state dict. Shape mismatches always throw; missing/unexpected keys throw
   * when `strict` (default). Nothing is modified when it throws.
   */
  loadStateDict(sd: StateDict, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = options.strict ?? true;
    const params = new Map(this.namedParameters());
    const buffers = new Map(this.namedBuffers());
    const owners = this.bufferOwners();
    const missing: string[] = [];
    const mismatched: ShapeMismatch[] = [];
    const expectedKeys = [...params.keys(), ...buffers.keys()];
    for (const key of expectedKeys) {
      const value = sd[key];
      if (value === undefined) {
        missing.push(key);
        continue;
      }
      const target = (params.get(key) ?? buffers.get(key)) as tf.Tensor;
      if (!sameShape(target.shape, value.shape)) {
        mismatched.push({ key, expected: target.shape.slice(), actual: value.shape.slice() });
      }
    }
    const expected = new Set(expectedKeys);
    const unexpected = Object.keys(sd).filter((k) => !expected.has(k));
    if (mismatched.length > 0 || (strict && (missing.length > 0 || unexpected.length > 0))) {
      throw new StateDictError(strict ? missing : [], strict ? unexpected : [], mismatched, options.context);
    }
    for (const [key, variable] of params) {
      const value = sd[key];
      if (value === undefined) continue;
      tf.tidy(() => variable.assign(tf.cast(toTensor(value), variable.dtype)));
    }
    for (const [key] of buffers) {
      const value = sd[key];
      if (value === undefined) continue;
      const [owner, name] = owners.get(key) as [Module, string];
      const t = tf.tidy(() => tf.cast(toTensor(value), owner.buffer(name).dtype));
      owner.setBuffer(name, t);
    }
    return { missing, unexpected };
  }

  private bufferOwners(prefix = '', out = new Map<string, [Module, string]>()): Map<string, [Module, string]> {
    for (const n of this.buffers.keys()) out.set(prefix + n, [this, n]);
    for (const [n, m] of this.children) m.bufferOwners(`${prefix}${n}.`, out);
    return out;
  }

  /**
   * Every module of the tree with its dotted name, this one first (`''`), depth-first in
   * registration order, as PyTorch's `named_modules()`.
   */
  namedModules(prefix = ''): Array<[string, Module]> {
    const out: Array<[string, Module]> = [[prefix, this]];
    for (const [n, m] of this.children) out.push(...m.namedModules(prefix === '' ? n : `${prefix}.${n}`));
    return out;
  }

  /**
   * Sets train (true) or eval (false) mode recursively. Entering training mode frees what layers
   * kept for inference ({@link releaseCaches}).
   */
  train(mode = true): this {
    this.setMode(mode);
    if (mode) this.releaseCaches();
    return this;
  }

  private setMode(mode: boolean): void {
    this.training = mode;
    for (const m of this.children.values()) m.setMode(mode);
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Frees tensors layers keep between calls (on wasm, each `Linear`'s transposed weight in eval
   * mode), recursively; they are rebuilt on the next call. `train()` and `dispose()` free them too.
   *
   * @example
   * ```ts
   * vit.eval();
   * const tokens = vit.forward(images); // keeps Wᵀ per Linear on wasm for the next call
   * vit.releaseCaches(); // back to the weights alone
   * ```
   */
  releaseCaches(): this {
    for (const m of this.children.values()) m.releaseCaches();
    return this;
  }

  /** Frees every variable and buffer. */
  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    for (const b of this.buffers.values()) b.dispose();
    for (const m of this.children.values()) m.dispose();
    this.params.clear();
    this.buffers.clear();
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function toTensor(value: TensorLike): tf.Tensor {
  return value instanceof tf.Tensor ? value : rawToTensor(value);
}
