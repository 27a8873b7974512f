/**
 * Ops mode, for benchmarks only: `tuned` (default) is the wasm-friendly formulation; `naive`
 * runs the same modules the straightforward tfjs way (transpose-flag matMuls with stock
 * gradients, batched attention, stock GELU gradient), the baseline TFJS_NOTES §4 measures.
 */
export type OpsMode = 'tuned' | 'naive';

let mode: OpsMode = 'tuned';

export function setOpsMode(m: OpsMode): void {
  mode = m;
}

export function opsMode(): OpsMode {
  return mode;
}
