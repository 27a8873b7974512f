/**
 * Golden parity of DAVIS J&F against davis2017-evaluation: per-frame J, F
 * (with and without void) for every stored prediction type, statistics over all frames and over
 * the semi-supervised frames, the official pipeline's per-sequence and global tables, the synthetic
 * edge cases and db_statistics series. Everything (bits, shapes, expected values, tolerance) comes
 * from the manifest; values are compared within its atol (1e-6).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boundaryF, dbStatistics, jaccard, type Statistics } from '@selfpatch/eval';
import { loadFixture, type Fixture } from '../harness/index.js';

type Stats = { mean: number; recall: number; decay: number };
interface Manifest {
  masks_encoding: { bits: Record<string, string> };
  perframe: { values: Record<string, Record<string, { J: number[]; F: number[]; J_void: number[]; F_void: number[]; stats_all_frames: Record<'J' | 'F', Stats>; 'stats_semisup_frames_1_to_T-2': Record<'J' | 'F', Stats> }>> };
  pipeline: { results: Record<string, { per_sequence: Record<string, Record<string, number>>; global: Record<string, number> }> };
  synthetic: { cases: Record<string, { shape: number[]; bound_th: number; has_void: boolean; J: number | number[]; F: number | number[] }> };
  db_statistics: { series: Record<string, { values: Array<number | null>; mean: number | null; recall: number | null; decay: number | null }> };
  tolerance: { perframe_and_stats_atol: number };
}

function close(a: number, b: number, atol: number, what: string): void {
  if (Number.isNaN(b)) assert.ok(Number.isNaN(a), `${what}: expected NaN, got ${a}`);
  else assert.ok(Math.abs(a - b) <= atol, `${what}: ${a} vs ${b}`);
}

function closeStats(s: Statistics, e: Stats, atol: number, what: string): void {
  close(s.mean, e.mean, atol, `${what} mean`);
  close(s.recall, e.recall, atol, `${what} recall`);
  close(s.decay, e.decay, atol, `${what} decay`);
}

/** Frame t of bit `bit` of the packed masks, or a constant for `empty`/`full`. */
function frame(fx: Fixture, seq: string, bit: number | 'empty' | 'full', t: number): Uint8Array {
  const packed = fx.get(`masks.bits.${seq}`);
  const [, h, w] = packed.shape as [number, number, number];
  const n = h * w;
  if (bit === 'empty') return new Uint8Array(n);
  if (bit === 'full') return new Uint8Array(n).fill(1);
  const d = packed.data as Uint8Array;
  return Uint8Array.from({ length: n }, (_, i) => ((d[t * n + i] as number) >> bit) & 1);
}

test('davis_metrics: per-frame J/F (± void), statistics, pipeline tables, synthetic cases, db_statistics', (t) => {
  const fx = loadFixture(t, 'davis_metrics');
  if (!fx) return;
  const m = fx.manifest as unknown as Manifest;
  const atol = m.tolerance.perframe_and_stats_atol;
  const bitOf = Object.fromEntries(Object.entries(m.masks_encoding.bits).map(([b, name]) => [name, Number(b)]));
  let frames = 0;
  for (const [pred, bySeq] of Object.entries(m.perframe.values)) {
    const semis: Record<string, Record<'J' | 'F', Statistics>> = {};
    for (const [seq, exp] of Object.entries(bySeq)) {
      const [T, h, w] = fx.get(`masks.bits.${seq}`).shape as [number, number, number];
      const bit = pred in bitOf ? (bitOf[pred] as number) : (pred as 'empty' | 'full');
      const J: number[] = [];
      const F: number[] = [];
      for (let ti = 0; ti < T; ti++) {
        const gt = frame(fx, seq, bitOf.gt as number, ti);
        const p = frame(fx, seq, bit, ti);
        const v = frame(fx, seq, bitOf.void as number, ti);
        J.push(jaccard(gt, p));
        F.push(boundaryF(gt, p, h, w));
        close(J[ti] as number, exp.J[ti] as number, atol, `${pred}/${seq}/J[${ti}]`);
        close(F[ti] as number, exp.F[ti] as number, atol, `${pred}/${seq}/F[${ti}]`);
        close(jaccard(gt, p, v), exp.J_void[ti] as number, atol, `${pred}/${seq}/J_void[${ti}]`);
        close(boundaryF(gt, p, h, w, { voidMask: v }), exp.F_void[ti] as number, atol, `${pred}/${seq}/F_void[${ti}]`);
        frames++;
      }
      for (const k of ['J', 'F'] as const) {
        const v = k === 'J' ? J : F;
        closeStats(dbStatistics(v), exp.stats_all_frames[k], atol, `${pred}/${seq}/${k} all`);
        const semi = dbStatistics(v.slice(1, -1));
        closeStats(semi, exp['stats_semisup_frames_1_to_T-2'][k], atol, `${pred}/${seq}/${k} semisup`);
        (semis[seq] ??= {} as Record<'J' | 'F', Statistics>)[k] = semi;
      }
    }
    // The official pipeline: per-sequence rows and the global table (means over all objects).
    const res = m.pipeline.results[pred];
    if (!res) continue;
    const seqs = Object.keys(semis);
    for (const seq of seqs) {
      const s = semis[seq] as Record<'J' | 'F', Statistics>;
      const row = res.per_sequence[seq] as Record<string, number>;
      for (const k of ['J', 'F'] as const) {
        close(s[k].mean, row[`${k}-Mean`] as number, atol, `${pred}/${seq} ${k}-Mean`);
        close(s[k].recall, row[`${k}-Recall`] as number, atol, `${pred}/${seq} ${k}-Recall`);
        close(s[k].decay, row[`${k}-Decay`] as number, atol, `${pred}/${seq} ${k}-Decay`);
      }
    }
    const avg = (f: (s: Record<'J' | 'F', Statistics>) => number) => seqs.reduce((a, q) => a + f(semis[q] as Record<'J' | 'F', Statistics>), 0) / seqs.length;
    const jm = avg((s) => s.J.mean);
    const fm = avg((s) => s.F.mean);
    close((jm + fm) / 2, res.global['J&F-Mean'] as number, atol, `${pred} J&F-Mean`);
    close(avg((s) => s.J.decay), res.global['J-Decay'] as number, atol, `${pred} J-Decay`);
    close(avg((s) => s.F.recall), res.global['F-Recall'] as number, atol, `${pred} F-Recall`);
  }
  assert.ok(frames > 50, `${frames} frames checked`);
  for (const [name, c] of Object.entries(m.synthetic.cases)) {
    const gt = fx.get(`synthetic.${name}.gt`);
    const pred = fx.get(`synthetic.${name}.pred`);
    const vd = c.has_void ? fx.get(`synthetic.${name}.void`) : null;
    const [h, w] = c.shape.slice(-2) as [number, number];
    const n = h * w;
    const count = c.shape.length === 3 ? (c.shape[0] as number) : 1;
    for (let i = 0; i < count; i++) {
      const sl = (x: { data: unknown }) => (x.data as Uint8Array).subarray(i * n, (i + 1) * n);
      const ej = Array.isArray(c.J) ? (c.J[i] as number) : c.J;
      const ef = Array.isArray(c.F) ? (c.F[i] as number) : c.F;
      close(jaccard(sl(gt), sl(pred), vd ? sl(vd) : null), ej, atol, `synthetic ${name}[${i}] J`);
      close(boundaryF(sl(gt), sl(pred), h, w, { boundTh: c.bound_th, voidMask: vd ? sl(vd) : null }), ef, atol, `synthetic ${name}[${i}] F`);
    }
  }
  // JSON has no NaN: the manifest stores missing values as null.
  const nan = (v: number | null) => (v === null ? NaN : v);
  for (const [name, s] of Object.entries(m.db_statistics.series)) {
    closeStats(dbStatistics(s.values.map(nan)), { mean: nan(s.mean), recall: nan(s.recall), decay: nan(s.decay) }, atol, `db_statistics ${name}`);
  }
});
