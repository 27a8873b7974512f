/** Messages between the page and the compute worker (all pixel data as transferable buffers). */

export type Request =
  | { id: number; kind: 'load'; bytes: ArrayBuffer; name: string; threads?: number; backend?: BackendRequest }
  | { id: number; kind: 'visualize'; image: ArrayBuffer; name: string; size: number }
  | { id: number; kind: 'propagate'; frames: Array<{ bytes: ArrayBuffer; name: string }>; mask: { width: number; height: number; labels: Uint8Array }; gt: Array<{ bytes: ArrayBuffer; name: string }> | null; shortSide: number };

/** `auto`: WebGPU on a hardware adapter, else wasm; `webgpu` also takes a software adapter. */
export type BackendRequest = 'auto' | 'webgpu' | 'wasm';

export interface LoadResult {
  description: string;
  kind: 'vit' | 'swin';
  stride: number;
  backend: string;
  threads: number;
  /** The WebGPU adapter, or why WebGPU was not used. */
  backendNote: string;
}

export interface VisualizeResult {
  h: number;
  w: number;
  size: number;
  /** Per head, `[h·w]` in [0, 1] (ViT only). */
  heads: Float32Array[];
  mean: Float32Array | null;
  /** `[h·w·3]` PCA colours. */
  pca: Uint8Array;
  /** The resized input, RGB `[size·size·3]`. */
  rgb: Uint8Array;
}

export interface PropagateResult {
  width: number;
  height: number;
  /** Label map per frame at the frame size (frame 0 = the given mask). */
  labels: Uint8Array[];
  /** davis2017-evaluation global table when ground truth was given. */
  scores: Record<string, number> | null;
  msPerFrame: number;
}

export type Response =
  | { id: number; kind: 'progress'; done: number; total: number; label: string }
  | { id: number; kind: 'done'; result: LoadResult | VisualizeResult | PropagateResult }
  | { id: number; kind: 'error'; message: string };
