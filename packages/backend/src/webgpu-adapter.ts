/**
 * Finding a WebGPU adapter for tfjs's `webgpu` backend, in browsers (`navigator.gpu`) and in Node
 * (Dawn through the npm `webgpu` package, which has no `navigator`).
 *
 * Software adapters (SwiftShader, llvmpipe, lavapipe, WARP, anything marked fallback) compute
 * correctly but 100-1000x slower than a GPU (0.13-0.45 GFLOP/s measured for a matMul here), so
 * `auto` never takes one; an explicit `webgpu` choice may, and the reason says so. In Node, when
 * no hardware adapter answers, the software routes Dawn supports on Linux are tried: Vulkan on
 * the SwiftShader ICD that Chromium ships, then OpenGL ES on Mesa llvmpipe (compatibility mode).
 *
 * Written by hand: the adapter probing and the `navigator` shim are specific to running
 * tfjs-backend-webgpu outside a browser. The Node part is `webgpu-node.ts` (loaded only in Node).
 */
/** The minimal WebGPU surface used here (the DOM typings are not part of a Node build). */
export interface GpuLike {
  requestAdapter(options?: Record<string, unknown>): Promise<AdapterLike | null>;
}

export interface AdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

export interface FoundAdapter {
  /** What the adapter calls itself (vendor, device, description). */
  name: string;
  software: boolean;
  /** How it was reached (`navigator.gpu`, `Dawn (vulkan)`, ...). */
  route: string;
}

const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|software|basic render|warp/i;

export function describeAdapter(a: AdapterLike): { name: string; software: boolean } {
  const i = a.info ?? {};
  const name = [i.vendor, i.architecture, i.device, i.description].filter((s) => s && s.length > 0).join(' ').trim() || 'unnamed adapter';
  const software = a.isFallbackAdapter === true || i.isFallbackAdapter === true || SOFTWARE.test(name);
  return { name, software };
}

/** The adapter `navigator.gpu` gives in a browser (or null, with why). */
export async function browserAdapter(allowSoftware: boolean): Promise<{ adapter: FoundAdapter } | { adapter: null; why: string }> {
  const gpu = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
  if (!gpu) return { adapter: null, why: 'this browser has no navigator.gpu' };
  const a = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!a) return { adapter: null, why: 'navigator.gpu gave no adapter' };
  const d = describeAdapter(a);
  if (d.software && !allowSoftware) return { adapter: null, why: `only the software adapter '${d.name}'` };
  return { adapter: { ...d, route: 'navigator.gpu' } };
}
