/**
 * An exclusive lock on a run's output folder, so two processes never interleave one run's
 * checkpoints and metrics. The lock is a small JSON file created with `O_EXCL` (atomic on local
 * filesystems) naming the holder; a lock whose process is gone (killed, crashed) is taken over,
 * since nothing else could have removed it. Released on release() and at process exit.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { SelfPatchError } from './errors.js';
import { WriteError } from './write-error.js';

/** Another live process holds the output folder. */
export class RunLockedError extends SelfPatchError {
  readonly exitCode = 5;
  constructor(
    readonly folder: string,
    readonly holder: LockInfo,
  ) {
    super(
      `${folder} is in use by another run (pid ${holder.pid} on ${holder.host}, started ${holder.started}: ${holder.command}); ` +
        `wait for it, stop it, or choose another --out (if that process is surely gone, delete ${join(folder, LOCK_NAME)})`,
    );
  }
}

export interface LockInfo {
  pid: number;
  host: string;
  started: string;
  command: string;
}

export interface RunLock {
  readonly path: string;
  release(): void;
}

const LOCK_NAME = '.selfpatch.lock';

/** True when a process with this pid exists on this host. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(path: string): LockInfo | null {
  try {
    const info = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockInfo>;
    if (typeof info.pid !== 'number' || typeof info.host !== 'string') return null;
    return { pid: info.pid, host: info.host, started: String(info.started ?? '?'), command: String(info.command ?? '?') };
  } catch {
    return null;
  }
}

/**
 * Takes the lock of `folder` (which must exist) for this process.
 *
 * @example
 * ```ts
 * import { acquireRunLock } from '@selfpatch/checkpoint/node';
 * const lock = acquireRunLock('runs/vits');
 * try { ... } finally { lock.release(); }
 * ```
 */
export function acquireRunLock(folder: string): RunLock {
  const path = join(folder, LOCK_NAME);
  const me: LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString(), command: process.argv.slice(1).join(' ').slice(0, 300) };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new WriteError(path, err as Error);
      const holder = readLock(path);
      // A half-written lock (holder killed between open and write) or a dead holder on this host is stale.
      const stale = holder === null || (holder.host === me.host && !processAlive(holder.pid));
      if (!stale) throw new RunLockedError(folder, holder);
      rmSync(path, { force: true });
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(me));
    } finally {
      closeSync(fd);
    }
    let held = true;
    const release = (): void => {
      if (!held) return;
      held = false;
      process.off('exit', release);
      if (readLock(path)?.pid === me.pid) rmSync(path, { force: true });
    };
    process.on('exit', release);
    return { path, release };
  }
  throw new WriteError(path, new Error('could not take the lock (it kept reappearing)'));
}
