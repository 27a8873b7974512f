/**
 * WebGPU in Node: Dawn through the npm `webgpu` package (an optional peer), exposed as
 * `navigator.gpu` for tfjs-backend-webgpu. Routes tried: Dawn's default adapter, then (only when
 * software adapters are allowed) OpenGL ES on Mesa llvmpipe in compatibility mode and Vulkan on
 * Chromium's SwiftShader ICD. Debian 12's lavapipe does not work with Dawn (it lacks
 * shaderUniformBufferArrayDynamicIndexing), so it is not tried.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { describeAdapter, type AdapterLike, type FoundAdapter, type GpuLike } from './webgpu-adapter.js';

interface DawnModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}

/** Chromium's SwiftShader Vulkan ICD (Debian's `chromium` package installs it beside its libraries). */
function swiftShaderIcd(): string | null {
  for (const dir of ['/usr/lib/chromium', '/usr/lib64/chromium', '/opt/google/chrome', '/usr/lib/chromium-browser']) {
    const f = join(dir, 'vk_swiftshader_icd.json');
    if (existsSync(f)) return f;
  }
  return null;
}

function haveMesaEgl(): boolean {
  for (const dir of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib']) {
    try {
      if (readdirSync(dir).some((f) => f.startsWith('libEGL_mesa.so'))) return true;
    } catch {
      // not this layout
    }
  }
  return false;
}

/**
 * Asks a child process for Dawn's default adapter: null when it is a hardware adapter (go ahead
 * in this process), else why not.
 */
function probeInChild(): string | null {
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve('webgpu');
  } catch {
    return "the 'webgpu' package is not installed";
  }
  const code = `import { create, globals } from ${JSON.stringify(pathToFileURL(entry).href)};
    Object.assign(globalThis, globals);
    const a = await create([]).requestAdapter({ powerPreference: 'high-performance' });
    process.stdout.write(JSON.stringify(a ? { info: a.info, isFallbackAdapter: a.isFallbackAdapter } : null));
    process.exit(0);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) return `probing Dawn failed (${(r.stderr || String(r.error)).trim().split('\n')[0]})`;
  let found: AdapterLike | null;
  try {
    found = JSON.parse(r.stdout) as AdapterLike | null;
  } catch {
    return 'probing Dawn gave no answer';
  }
  if (!found) return 'Dawn found no GPU adapter';
  const d = describeAdapter(found);
  return d.software ? `only the software adapter '${d.name}'` : null;
}

/** Makes `navigator.gpu` answer with `gpu`, passing `extra` adapter options on every request. */
function exposeGpu(gpu: GpuLike, extra: Record<string, unknown>): void {
  const shim: GpuLike = {
    requestAdapter: (o?: Record<string, unknown>) => gpu.requestAdapter({ ...(o ?? {}), ...extra }),
  };
  // Keep the rest of the GPU object (getPreferredCanvasFormat, wgslLanguageFeatures) reachable.
  Object.setPrototypeOf(shim, gpu as object);
  const nav = (globalThis as unknown as { navigator?: Record<string, unknown> }).navigator;
  if (nav) Object.defineProperty(nav, 'gpu', { value: shim, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu: shim }, configurable: true, writable: true });
}

/**
 * Sets up `navigator.gpu` with the best adapter Node can reach through Dawn. Returns null (with
 * the reasons) when no adapter is allowed.
 */
export async function setupNodeWebGPU(importer: (s: string) => Promise<unknown>, allowSoftware: boolean): Promise<{ adapter: FoundAdapter } | { adapter: null; why: string }> {
  let dawn: DawnModule;
  try {
    const mod = (await importer('webgpu')) as DawnModule & { default?: DawnModule };
    dawn = typeof mod.create === 'function' ? mod : (mod.default as DawnModule);
  } catch (err) {
    return { adapter: null, why: `the 'webgpu' package (Dawn for Node) is not installed (${(err as Error).message.split('\n')[0]})` };
  }
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  if (!allowSoftware) {
    // Dawn prints driver warnings to stderr when it finds no usable GPU; look in a child first so
    // a machine without one (the common case for `auto`) starts quietly.
    const probe = probeInChild();
    if (probe !== null) return { adapter: null, why: probe };
  }
  Object.assign(globalThis, dawn.globals);
  const routes: Array<{ route: string; flags: string[]; options: Record<string, unknown>; prepare?: () => boolean }> = [
    { route: 'Dawn (default)', flags: [], options: { powerPreference: 'high-performance' } },
  ];
  if (allowSoftware) {
    // llvmpipe ran a 256³ matMul at 1.4 GFLOP/s here, SwiftShader at 0.13: try it first.
    // SELFPATCH_WEBGPU_SOFTWARE=vulkan|opengl forces one.
    const only = process.env.SELFPATCH_WEBGPU_SOFTWARE;
    if (only !== 'vulkan') {
      routes.push({
        route: 'Dawn (opengl, Mesa llvmpipe)',
        flags: ['backend=opengl'],
        options: { featureLevel: 'compatibility' },
        prepare: () => {
          if (!haveMesaEgl()) return false;
          process.env.EGL_PLATFORM ??= 'surfaceless';
          return true;
        },
      });
    }
    if (only !== 'opengl') {
      routes.push({
        route: 'Dawn (vulkan, SwiftShader)',
        flags: ['backend=vulkan'],
        options: {},
        prepare: () => {
          const icd = swiftShaderIcd();
          if (!icd) return false;
          process.env.VK_ICD_FILENAMES ??= icd;
          return true;
        },
      });
    }
  }
  const seen: string[] = [];
  for (const r of routes) {
    if (r.prepare && !r.prepare()) continue;
    let adapter: AdapterLike | null;
    let gpu: GpuLike;
    try {
      gpu = dawn.create(r.flags);
      adapter = await gpu.requestAdapter(r.options);
    } catch (err) {
      seen.push(`${r.route}: ${(err as Error).message.split('\n')[0]}`);
      continue;
    }
    if (!adapter) {
      seen.push(`${r.route}: no adapter`);
      continue;
    }
    const d = describeAdapter(adapter);
    if (d.software && !allowSoftware) {
      seen.push(`${r.route}: only the software adapter '${d.name}'`);
      continue;
    }
    exposeGpu(gpu, r.options);
    return { adapter: { ...d, route: r.route } };
  }
  return { adapter: null, why: seen.length ? seen.join('; ') : 'no route to an adapter' };
}

/** The parts of tfjs-backend-webgpu's `WebGPUBackend` the synchronous readback uses. */
interface WebGPUBackendLike {
  tensorMap: { get(id: object): { values: unknown; dtype: string; resource: GpuBufferLike; complexTensorInfos?: unknown } };
  bufferManager: { acquireBuffer(size: number, usage: number): GpuBufferLike; releaseBuffer(b: GpuBufferLike): void };
  commandEncoder: { copyBufferToBuffer(a: GpuBufferLike, ao: number, b: GpuBufferLike, bo: number, size: number): void };
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  convertAndCacheOnCPU(id: object, vals: unknown): unknown;
  readSync(id: object): unknown;
}

interface GpuBufferLike {
  size: number;
  mapState: string;
  mapAsync(mode: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
}

/** Longest a synchronous read waits for the GPU before giving up. */
const READ_TIMEOUT_MS = 120_000;

/**
 * Gives tfjs-backend-webgpu a working `readSync` in Node. In browsers it reads through
 * `OffscreenCanvas`, which Node lacks, so every `dataSync()` (loss values, positive matching,
 * gradient clipping) threw. Here the buffer is mapped as in the async `read`, and the event loop
 * is pumped (`deasync`) until Dawn reports it mapped. A synchronous read stalls the GPU pipeline
 * as it does in a browser; the async `data()` stays the fast path.
 */
export function installNodeReadSync(backend: WebGPUBackendLike, pump: (pred: () => boolean) => void, convert: (data: ArrayBuffer, dtype: string) => unknown): void {
  const original = backend.readSync.bind(backend);
  backend.readSync = (dataId: object): unknown => {
    const td = backend.tensorMap.get(dataId);
    if (td.values != null || td.dtype === 'string' || td.dtype === 'complex64') return td.values != null || td.dtype === 'string' ? td.values : original(dataId);
    const buffer = td.resource;
    const GPUBufferUsage = (globalThis as unknown as { GPUBufferUsage: Record<string, number> }).GPUBufferUsage;
    const GPUMapMode = (globalThis as unknown as { GPUMapMode: Record<string, number> }).GPUMapMode;
    const staging = backend.bufferManager.acquireBuffer(buffer.size, (GPUBufferUsage.COPY_DST as number) | (GPUBufferUsage.MAP_READ as number));
    backend.ensureCommandEncoderReady();
    backend.endComputePassEncoder();
    backend.commandEncoder.copyBufferToBuffer(buffer, 0, staging, 0, buffer.size);
    backend.submitQueue();
    let failure: unknown = null;
    staging.mapAsync(GPUMapMode.READ as number).catch((err: unknown) => (failure = err));
    const t0 = Date.now();
    // The promise's callbacks are microtasks, which do not run while pumping: poll the state.
    pump(() => staging.mapState !== 'mapped' && failure === null && Date.now() - t0 < READ_TIMEOUT_MS);
    if (staging.mapState !== 'mapped') {
      backend.bufferManager.releaseBuffer(staging);
      throw new Error(`webgpu: reading a tensor back failed (${failure === null ? `no answer from the GPU in ${READ_TIMEOUT_MS / 1000} s` : String(failure)})`);
    }
    const data = staging.getMappedRange().slice(0);
    staging.unmap();
    backend.bufferManager.releaseBuffer(staging);
    const vals = convert(data, td.dtype);
    backend.convertAndCacheOnCPU(dataId, vals);
    return vals;
  };
}
