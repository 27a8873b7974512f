// Runs `node <args>` with the SIMD kernels' relaxed-SIMD build asked for (SELFPATCH_TEST_SIMD_BUILD,
// read by @selfpatch/backend/testing, which fails where the runtime lacks it) and, on Node 20 where
// relaxed SIMD is behind a V8 flag that NODE_OPTIONS cannot carry, with that flag. CI runs the
// golden fixtures on wasm through it: Node 22+ users run this build by default.
//   node scripts/with-relaxed-simd.mjs --conditions=source --import tsx --test golden/*.test.ts
import { spawnSync } from 'node:child_process';

const flag = Number(process.versions.node.split('.')[0]) < 22 ? ['--experimental-wasm-relaxed-simd'] : [];
const r = spawnSync(process.execPath, [...flag, ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, SELFPATCH_TEST_SIMD_BUILD: 'relaxed-simd', SELFPATCH_TEST_BACKENDS: process.env.SELFPATCH_TEST_BACKENDS ?? 'wasm' },
});
process.exit(r.status ?? 1);
