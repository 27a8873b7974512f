/**
 * The embedded demo images (`demo/`, extracted from Debian's python3-skimage sample data by
 * `scripts/extract_demo_data.py`; public domain / CC0, see `demo/ATTRIBUTION.md`).
 */
import { fileURLToPath } from 'node:url';

/** Absolute path of the demo image folder shipped with this package. */
export function demoImagesDir(): string {
  return fileURLToPath(new URL('../demo', import.meta.url));
}
