/** The process-wide default generator used when a module is built without an explicit `rng`. */
import { Rng } from './rng.js';

export type { Rng };
let shared = new Rng(0);

/** The shared default {@link Rng}. */
export function globalRng(): Rng {
  return shared;
}

/** Reseeds the shared default generator (like `torch.manual_seed`). */
export function manualSeed(seed: number): void {
  shared = new Rng(seed);
}
