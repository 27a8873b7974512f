import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostDescription, roundsCheck, spread, threadsCheck } from '../sanity.js';

test('a ratio is refused from rounds that spread over 25% or doubled, and from a baseline that 2 threads did not speed up', () => {
  assert.equal(roundsCheck('torch', [100, 110, 120]), null);
  assert.match(roundsCheck('torch', [100, 130, 110]) ?? '', /torch run-to-run spread 30% > 25%/);
  assert.ok(Math.abs(spread([80, 100]) - 0.25) < 1e-12);
  assert.equal(roundsCheck('wasm', [80, 100]), null, 'exactly 25% is accepted');
  // Doubling is caught even when the spread rule is loosened by few rounds (one pair).
  assert.match(roundsCheck('torch', [50, 100]) ?? '', /spread|2× its previous round/);
  assert.equal(threadsCheck('torch', 1000, 600), null);
  assert.match(threadsCheck('torch', 678, 1088) ?? '', /torch at 2 threads \(1088 ms\) not faster than at 1 \(678 ms\)/);
});

test('the host description names the CPU model, core count and a slug for its results folder', () => {
  const h = hostDescription();
  assert.ok(h.model.length > 0 && h.cores > 0);
  assert.match(h.slug, /^[a-z0-9-]+-\d+c$/);
});
