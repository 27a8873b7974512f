/** Small helpers shared by the benchmarks (Node and the bundled in-page halves). */

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/**
 * Times `a` and `b` (each returns ms for its own batch of runs) in alternating rounds after one
 * warm-up each, so a slow phase of a noisy machine hits both sides.
 */
export async function interleaved(
  a: () => number | Promise<number>,
  b: () => number | Promise<number>,
  rounds: number,
): Promise<{ a: number[]; b: number[] }> {
  await a();
  await b();
  const out = { a: [] as number[], b: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    out.a.push(await a());
    out.b.push(await b());
  }
  return out;
}

/**
 * Runs per round of the ONNX forward bench (Node and page): 5-10 s of work per side and round,
 * long enough to average out the speed drift of a shared 2-core VM (with 2-3 s rounds most runs
 * were refused by the spread check).
 */
export const onnxRunsPerRound = (batch: number): number => (batch === 1 ? 10 : 2);
