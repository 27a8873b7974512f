/**
 * The embedded demo images (`demo/`, extracted from Debian's python3-skimage sample data by
 * `scripts/extract_demo_data.py`: public-domain/CC0 photos and OpenCV sample video frames (Apache-2.0/BSD-3-Clause); see `demo/ATTRIBUTION.md`).
 */
import { fileURLToPath } from 'node:url';

/** Absolute path of the demo photos shipped with this package. */
export function demoImagesDir(): string {
  return fileURLToPath(new URL('../demo/photos', import.meta.url));
}

/** Absolute path of the demo video frames (`%05d.jpg`, in order). */
export function demoVideoDir(): string {
  return fileURLToPath(new URL('../demo/video/vtest', import.meta.url));
}
