/** Locates Debian's python3 with torch for interop tests; with CI=true its absence is a failure. */
import { spawnSync } from 'node:child_process';

export interface PythonTorch {
  python: string;
}

export function findPythonTorch(): PythonTorch | null {
  for (const python of [process.env.SELFPATCH_PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean) as string[]) {
    const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return { python };
  }
  return null;
}

/** Returns python+torch, or throws under CI (missing data is a failure there), or null locally. */
export function requirePythonTorch(): PythonTorch | null {
  const found = findPythonTorch();
  if (found === null && process.env.CI === 'true') {
    throw new Error('python3 with torch is required under CI=true (apt-get install python3-torch)');
  }
  return found;
}
