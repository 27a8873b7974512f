/**
 * UI thread of the browser app: file pickers, a mask painter, canvases and progress. All compute
 * goes to the worker (worker.ts). `?model=URL` loads a checkpoint at start (links, tests).
 * The latest results are also exposed as `window.selfpatch` for automation.
 */
import { decodeMask } from '@selfpatch/data';
import type { BackendRequest, LoadResult, PropagateResult, Request, Response, VisualizeResult } from './protocol.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $<HTMLSpanElement>('status');
const progress = $<HTMLProgressElement>('progress');

interface AppState {
  model: LoadResult | null;
  attention: VisualizeResult | null;
  propagation: PropagateResult | null;
  error: string | null;
}
const state: AppState = { model: null, attention: null, propagation: null, error: null };
(window as unknown as { selfpatch: AppState }).selfpatch = state;

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
let nextId = 1;
const pending = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();
worker.onmessage = (ev: MessageEvent<Response>) => {
  const m = ev.data;
  if (m.kind === 'progress') {
    progress.hidden = false;
    progress.max = m.total;
    progress.value = m.done;
    status.textContent = `propagating ${m.done}/${m.total} (${m.label})`;
    return;
  }
  const p = pending.get(m.id);
  pending.delete(m.id);
  if (m.kind === 'error') p?.reject(new Error(m.message));
  else p?.resolve(m.result);
};

type WithoutId<R> = R extends unknown ? Omit<R, 'id'> : never;

function call<T>(req: WithoutId<Request>, transfer: Transferable[] = []): Promise<T> {
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    pending.set(id, { resolve: resolve as (r: unknown) => void, reject });
    worker.postMessage({ ...req, id }, transfer);
  });
}

async function run<T>(label: string, fn: () => Promise<T>): Promise<T | null> {
  status.classList.remove('err');
  status.textContent = label;
  try {
    const r = await fn();
    progress.hidden = true;
    return r;
  } catch (err) {
    state.error = (err as Error).message;
    status.textContent = `error: ${state.error}`;
    status.classList.add('err');
    progress.hidden = true;
    return null;
  }
}

/** `?threads=N`: XNNPACK threads for the worker (takes effect at the first load). */
function requestedThreads(): number | undefined {
  const v = Number(new URLSearchParams(location.search).get('threads'));
  return Number.isInteger(v) && v >= 1 ? v : undefined;
}

/** `?backend=webgpu|wasm` (default: WebGPU on a hardware adapter, else WebAssembly). */
function requestedBackend(): BackendRequest {
  const v = new URLSearchParams(location.search).get('backend');
  return v === 'webgpu' || v === 'wasm' ? v : 'auto';
}

async function loadModel(bytes: ArrayBuffer, name: string): Promise<void> {
  const r = await run(`loading ${name}…`, () => call<LoadResult>({ kind: 'load', bytes, name, threads: requestedThreads(), backend: requestedBackend() }, [bytes]));
  if (!r) return;
  state.model = r;
  $('model-info').textContent = `${r.description} — stride ${r.stride}`;
  $('backend').textContent = r.backend === 'webgpu' ? `backend webgpu on ${r.backendNote}` : `backend ${r.backend}, ${r.threads} thread(s)${crossOriginIsolated ? '' : ' (not cross-origin isolated: 1 thread)'}; ${r.backendNote}`;
  status.textContent = 'model ready';
}

$<HTMLInputElement>('model-file').onchange = async (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (f) await loadModel(await f.arrayBuffer(), f.name);
};
async function loadUrl(url: string): Promise<void> {
  const got = await run(`downloading ${url}…`, async () => {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    return res.arrayBuffer();
  });
  if (got) await loadModel(got, url.split('/').pop() ?? url);
}
$<HTMLButtonElement>('model-load').onclick = () => void loadUrl($<HTMLInputElement>('model-url').value);

function canvasFrom(rgb: Uint8Array, w: number, h: number, scale = 1): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = w * scale;
  c.height = h * scale;
  const small = new OffscreenCanvas(w, h);
  const img = new ImageData(w, h);
  for (let i = 0; i < w * h; i++) img.data.set([rgb[3 * i] as number, rgb[3 * i + 1] as number, rgb[3 * i + 2] as number, 255], 4 * i);
  (small.getContext('2d') as OffscreenCanvasRenderingContext2D).putImageData(img, 0, 0);
  const ctx = c.getContext('2d') as CanvasRenderingContext2D;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, c.width, c.height);
  return c;
}

function heat(m: Float32Array): Uint8Array {
  const out = new Uint8Array(m.length * 3);
  m.forEach((v, i) => out.set([Math.round(255 * v), Math.round(255 * v * v), Math.round(255 * (1 - v) * 0.6)], 3 * i));
  return out;
}

function figure(c: HTMLCanvasElement, caption: string): HTMLElement {
  const f = document.createElement('figure');
  const cap = document.createElement('figcaption');
  cap.textContent = caption;
  f.append(c, cap);
  return f;
}

$<HTMLInputElement>('image').onchange = async (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (!f) return;
  const size = Number($<HTMLInputElement>('image-size').value) || 224;
  const r = await run(`computing attention for ${f.name}…`, async () => call<VisualizeResult>({ kind: 'visualize', image: await f.arrayBuffer(), name: f.name, size }));
  if (!r) return;
  state.attention = r;
  const box = $('attention');
  box.replaceChildren();
  const scale = Math.max(1, Math.floor(r.size / r.w));
  box.append(figure(canvasFrom(r.rgb, r.size, r.size), 'input'));
  box.append(figure(canvasFrom(r.pca, r.w, r.h, scale), 'patch PCA'));
  if (r.mean) box.append(figure(canvasFrom(heat(r.mean), r.w, r.h, scale), 'attention (mean)'));
  r.heads.forEach((hm, i) => box.append(figure(canvasFrom(heat(hm), r.w, r.h, scale), `head ${i}`)));
  status.textContent = `attention: ${r.heads.length} heads on a ${r.h}×${r.w} grid`;
};

// Mask painting on the first frame (label 1), used when no mask file is given.
const draw = $<HTMLCanvasElement>('draw');
let painted: Uint8Array | null = null;
let firstFrame: ImageBitmap | null = null;
$<HTMLInputElement>('frames').onchange = async () => {
  const files = sortedFiles('frames');
  if (!files.length) return;
  firstFrame = await createImageBitmap(files[0] as File);
  draw.width = firstFrame.width;
  draw.height = firstFrame.height;
  painted = new Uint8Array(draw.width * draw.height);
  redrawPainter();
};
function redrawPainter(): void {
  if (!firstFrame || !painted) return;
  const ctx = draw.getContext('2d') as CanvasRenderingContext2D;
  ctx.drawImage(firstFrame, 0, 0);
  const img = ctx.getImageData(0, 0, draw.width, draw.height);
  painted.forEach((v, i) => {
    if (v) img.data.set([255, 40, 40, 255].map((c, k) => (k < 3 ? Math.round(0.5 * (img.data[4 * i + k] as number) + 0.5 * c) : 255)), 4 * i);
  });
  ctx.putImageData(img, 0, 0);
}
let painting = false;
draw.onpointerdown = (e) => {
  painting = true;
  paint(e);
};
draw.onpointerup = () => (painting = false);
draw.onpointermove = (e) => painting && paint(e);
function paint(e: PointerEvent): void {
  if (!painted) return;
  const r = draw.getBoundingClientRect();
  const cx = Math.round(((e.clientX - r.left) * draw.width) / r.width);
  const cy = Math.round(((e.clientY - r.top) * draw.height) / r.height);
  const rad = 14;
  for (let y = Math.max(0, cy - rad); y < Math.min(draw.height, cy + rad); y++) {
    for (let x = Math.max(0, cx - rad); x < Math.min(draw.width, cx + rad); x++) {
      if ((x - cx) ** 2 + (y - cy) ** 2 <= rad * rad) painted[y * draw.width + x] = e.shiftKey ? 0 : 1;
    }
  }
  redrawPainter();
}

function sortedFiles(id: string): File[] {
  return Array.from($<HTMLInputElement>(id).files ?? []).sort((a, b) => a.name.localeCompare(b.name));
}

const PALETTE: Array<[number, number, number]> = [
  [0, 0, 0],
  [230, 25, 25],
  [25, 180, 60],
  [40, 90, 230],
  [240, 200, 20],
];
async function showFrame(i: number): Promise<void> {
  const r = state.propagation;
  const f = sortedFiles('frames')[i];
  if (!r || !f) return;
  const bmp = await createImageBitmap(f);
  const out = $<HTMLCanvasElement>('result');
  out.width = r.width;
  out.height = r.height;
  const ctx = out.getContext('2d') as CanvasRenderingContext2D;
  ctx.drawImage(bmp, 0, 0);
  const img = ctx.getImageData(0, 0, r.width, r.height);
  const lab = r.labels[i] as Uint8Array;
  for (let p = 0; p < lab.length; p++) {
    const v = lab[p] as number;
    if (v === 0 || v === 255) continue;
    const col = PALETTE[v % PALETTE.length] as [number, number, number];
    for (let k = 0; k < 3; k++) img.data[4 * p + k] = Math.round(0.45 * (img.data[4 * p + k] as number) + 0.55 * (col[k] as number));
  }
  ctx.putImageData(img, 0, 0);
  $('scrub-label').textContent = `frame ${i + 1}/${r.labels.length} (${f.name})`;
}
$<HTMLInputElement>('scrub').oninput = (e) => void showFrame(Number((e.target as HTMLInputElement).value));

$<HTMLButtonElement>('propagate').onclick = async () => {
  const frames = sortedFiles('frames');
  const maskFile = $<HTMLInputElement>('mask').files?.[0];
  const gtFiles = sortedFiles('gt');
  const shortSide = Number($<HTMLInputElement>('short-side').value) || 480;
  const r = await run('reading frames…', async () => {
    if (frames.length < 2) throw new Error('pick at least two frames');
    let mask: { width: number; height: number; labels: Uint8Array };
    if (maskFile) mask = decodeMask(new Uint8Array(await maskFile.arrayBuffer()), maskFile.name);
    else if (painted && painted.some((v) => v)) mask = { width: draw.width, height: draw.height, labels: painted };
    else throw new Error('give a first-frame mask file or paint the object on the first frame');
    const fr = await Promise.all(frames.map(async (f) => ({ bytes: await f.arrayBuffer(), name: f.name })));
    const gt = gtFiles.length ? await Promise.all(gtFiles.map(async (f) => ({ bytes: await f.arrayBuffer(), name: f.name }))) : null;
    return call<PropagateResult>({ kind: 'propagate', frames: fr, mask, gt, shortSide }, fr.map((x) => x.bytes));
  });
  if (!r) return;
  state.propagation = r;
  const scrub = $<HTMLInputElement>('scrub');
  scrub.max = String(r.labels.length - 1);
  scrub.value = String(r.labels.length - 1);
  await showFrame(r.labels.length - 1);
  const s = $('scores');
  if (r.scores) {
    const cols = Object.keys(r.scores);
    s.innerHTML = `<table><tr>${cols.map((c) => `<th>${c}</th>`).join('')}</tr><tr>${cols.map((c) => `<td>${(r.scores as Record<string, number>)[c]?.toFixed(3)}</td>`).join('')}</tr></table>`;
  } else s.textContent = 'no ground truth given: no J&F';
  status.textContent = `propagated ${r.labels.length - 1} frames, ${r.msPerFrame.toFixed(0)} ms/frame`;
};

const modelParam = new URLSearchParams(location.search).get('model');
if (modelParam) void loadUrl(modelParam);
