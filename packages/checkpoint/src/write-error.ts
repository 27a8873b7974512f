/** The typed error for a failed write (kept apart from the fs helpers so the CLI policy can use it). */
import { SelfPatchError } from './errors.js';

/** A write to disk failed (full disk, permissions...); the previous file is untouched. */
export class WriteError extends SelfPatchError {
  /** What the filesystem said (ENOSPC, EROFS, ...). */
  readonly reason: string;
  constructor(
    readonly file: string,
    cause: Error,
  ) {
    super(`could not write ${file}: ${cause.message}`);
    this.reason = cause.message;
  }
}
