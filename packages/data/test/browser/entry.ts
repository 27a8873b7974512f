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
