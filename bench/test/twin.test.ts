import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requirePythonTorch } from '@selfpatch/nn/testing';
import { twinCheck } from '../twin.js';

// The PyTorch baseline of `npm run bench` (bench/py/selfpatch_step.py, written from
// docs/selfpatch.md §1-§5) must reproduce two iterations of @selfpatch/ssl's Trainer from the same
// weights and crops (2×224 + 2×96: pos-embed interpolation, loc=True teacher, both loss terms,
// per-parameter clip, last-layer freeze, AdamW, EMA, centers). If either side drifts, the
// benchmark would compare different work, and this fails.
test('the torch twin of the benchmark reproduces the tfjs Trainer over two iterations', (t) => {
  const py = requirePythonTorch();
  if (py === null) return t.skip('python3 with torch is not installed (apt-get install python3-torch)');
  const r = twinCheck(py.python);
  assert.equal(r.error, undefined, r.error);
  assert.ok(r.ok, JSON.stringify(r));
  assert.ok((r.abs_diff as number) <= 1e-4);
  assert.notEqual(r.tfjs_loss, r.tfjs_loss1, 'the second iteration must see the update');
});
