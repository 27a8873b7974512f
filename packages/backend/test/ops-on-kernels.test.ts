import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OP_CASES, checkOpCase, maxAbsDiff } from '@selfpatch/nn/testing';
import { BACKENDS, use } from '@selfpatch/backend/testing';

// The same conformance cases @selfpatch/nn runs on stock tfjs, here with this package's fused
// kernels registered (wasm) and on whichever backends SELFPATCH_TEST_BACKENDS names.
for (const c of OP_CASES) {
  test(`${c.name}: with the backend kernels, forward and gradients match the stock formulation and finite differences`, async () => {
    const { grads } = await checkOpCase(c, BACKENDS, use);
    const ref = grads[BACKENDS[0] as string] as Float32Array[];
    for (const b of BACKENDS.slice(1)) {
      ref.forEach((g, i) => assert.ok(maxAbsDiff(g, (grads[b] as Float32Array[])[i] as Float32Array) < 1e-4, `${BACKENDS[0]} vs ${b} grad ${i}`));
    }
  });
}
