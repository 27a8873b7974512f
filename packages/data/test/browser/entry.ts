// Test page script: exposes the browser decoder to the Playwright-driven test.
import { decodeImage } from '../../src/decode.browser.js';

declare global {
  var decodeForTest: (b64: string, name: string) => Promise<{ width: number; height: number; data: number[] } | { error: string; name: string }>;
}

globalThis.decodeForTest = async (b64, name) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  try {
    const img = await decodeImage(bytes, { source: name });
    return { width: img.width, height: img.height, data: Array.from(img.data) };
  } catch (err) {
    return { error: (err as Error).message, name: (err as Error).name };
  }
};

// The multi-crop recipe on the page's main thread (the wasm kernels compile synchronously there).
import { multiCrop } from '../../src/index.browser.js';
import { Rng } from '@selfpatch/nn/base';

declare global {
  var multiCropForTest: (b64: string, width: number, height: number, seed: number) => number[][];
}

globalThis.multiCropForTest = (b64, width, height, seed) => {
  const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return multiCrop({ width, height, data }, new Rng(seed)).map((v) => Array.from(v.data));
};
