/**
 * Test helpers (`@selfpatch/checkpoint/testing`): locating Debian's python3 with torch for the
 * interop tests, and hostile checkpoint files made by the test rather than committed. Node only.
 */
import { spawnSync } from 'node:child_process';
import { writeZip } from './zip.js';

export interface PythonTorch {
  python: string;
}

/** Debian's python3 with torch (SELFPATCH_PYTHON overrides), or null. */
export function findPythonTorch(): PythonTorch | null {
  for (const python of [process.env.SELFPATCH_PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean) as string[]) {
    const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return { python };
  }
  return null;
}

/** python3+torch, or throws under CI (missing tools are a failure there), or null locally. */
export function requirePythonTorch(): PythonTorch | null {
  const found = findPythonTorch();
  if (found === null && process.env.CI === 'true') {
    throw new Error('python3 with torch is required under CI=true (apt-get install python3-torch)');
  }
  return found;
}

/**
 * A torch.save-style zip whose `data.pkl` nests lists `depth` deep (protocol 2: `depth` EMPTY_LIST
 * opcodes, then APPENDs folding them into one another). A hostile input for reader tests, made by
 * the test rather than committed.
 */
export function deeplyNestedPth(depth: number): Uint8Array {
  const pkl = new Uint8Array(2 + depth + (depth - 1) + 1);
  pkl[0] = 0x80;
  pkl[1] = 0x02;
  pkl.fill(0x5d, 2, 2 + depth); // EMPTY_LIST
  pkl.fill(0x61, 2 + depth, 2 + depth + depth - 1); // APPEND
  pkl[pkl.length - 1] = 0x2e; // STOP
  return writeZip([
    { name: 'archive/data.pkl', data: pkl },
    { name: 'archive/byteorder', data: new TextEncoder().encode('little') },
    { name: 'archive/version', data: new TextEncoder().encode('3\n') },
  ]);
}
