import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BackendUnavailableError } from '@selfpatch/nn';
import { rewriteWorkerScript } from '../src/wasm-threads-node.js';

const cwd = fileURLToPath(new URL('..', import.meta.url));

/** The kernels' build these tests ask for (simd-builds.test.ts runs this file with each). */
const build = process.env.SELFPATCH_TEST_SIMD_BUILD;
/** Node 20 needs the flag for relaxed SIMD: children get it when this process has it. */
const v8Flags = process.execArgv.filter((a) => a === '--experimental-wasm-relaxed-simd');

/** Runs a module script in a fresh Node (the backend can be initialised once per process). */
function runScript(lines: string[], timeoutMs = 60_000): { status: number | null; stdout: string; stderr: string; signal: string | null } {
  const r = spawnSync(process.execPath, [...v8Flags, '--stack-trace-limit=5', '--conditions=source', '--import', 'tsx', '--input-type=module', '-e', lines.join('\n')], {
    cwd,
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.slice(-2000), signal: r.signal };
}

// A matMul and a linear layer's gradients on 2 XNNPACK threads equal the 1-thread results, the
// SIMD elementwise kernels split over 2 threads give the same bits, and the process then exits on
// its own (no process.exit) well before the timeout.
test('threaded wasm in Node: 2 threads, same numbers as 1 thread, exits by itself', () => {
  const body = (threads: number) => [
    "import * as tf from '@tensorflow/tfjs-core';",
    "import { initBackend, simdKernelThreads } from '@selfpatch/backend';",
    "import { Attention, LayerNorm, Linear, Mlp, Rng, attentionWithBias, gelu, inferenceBlock, layerNorm, linear, scaledDotProductAttention } from '@selfpatch/nn';",
    `const info = await initBackend('wasm', { threads: ${threads}${build ? `, simd: '${build}'` : ''} });`,
    "const a = tf.tensor2d(Array.from({ length: 300 * 200 }, (_, i) => Math.sin(i)), [300, 200]);",
    "const w = tf.tensor2d(Array.from({ length: 120 * 200 }, (_, i) => Math.cos(i * 0.7)), [120, 200]);",
    'const g = tf.grads((x, ww) => tf.sum(tf.square(linear(x, ww))));',
    'const [gx, gw] = g([a, w]);',
    'const y = linear(a, w);',
    // The packed inference product (eval mode), split by panels of output features.
    'const fc = new Linear(200, 120, { bias: false }); fc.weight.assign(w); fc.eval();',
    'const yl = fc.forward(a);',
    // An MLP in eval mode: fc1 and GELU in one kernel, split by panels (300·600·200 ≥ 2²⁵).
    "const mlp = new Mlp(200, { hiddenFeatures: 600, rng: new Rng(3) }); mlp.eval();",
    'const ym = mlp.forward(a);',
    // Inference attention from the fused qkv, split by (batch, head) slices over the threads.
    'const mh = new Attention(48, 3); mh.eval();',
    'const am = mh.forward(tf.reshape(tf.slice(a, [0, 0], [296, 48]), [4, 74, 48])).out;',
    "const sum = (t) => Array.from(t.dataSync()).reduce((s, v, i) => s + v * ((i % 7) + 1), 0);",
    // Long enough to be split over the kernel threads, odd so the parts and the tail differ.
    'const big = tf.tensor1d(Array.from({ length: 200003 }, (_, i) => Math.sin(i * 0.37) * 4));',
    'const ge = gelu(big);',
    'const gg = tf.grad((t) => tf.sum(tf.mul(gelu(t), tf.exp(tf.mul(t, 0.1)))))(big);',
    // Row-wise kernels split by rows: a matrix transpose and a LayerNorm.
    'const tr = tf.transpose(tf.reshape(tf.slice(big, 0, 601 * 333), [601, 333]));',
    'const ln = layerNorm(tf.reshape(tf.slice(big, 0, 1001 * 192), [1001, 192]), tf.linspace(0.5, 1.5, 192), tf.linspace(-1, 1, 192), 1e-6);',
    // The attention core split by slices (7 slices of 37 queries, 29 keys, d 24, values 20 wide).
    'const att = (n, s) => tf.reshape(tf.slice(big, 1000 * s, n), [7, n / 7 / (s === 2 ? 20 : 24), s === 2 ? 20 : 24]);',
    'const [aq, ak, av] = [att(7 * 37 * 24, 0), att(7 * 29 * 24, 1), att(7 * 29 * 20, 2)];',
    'const at = scaledDotProductAttention(aq, ak, av, 0.3).out;',
    'const [dq, dk, dv] = tf.grads((x, y2, z) => tf.sum(tf.mul(scaledDotProductAttention(x, y2, z, 0.3).out, tf.reshape(tf.sin(tf.range(0, 7 * 37 * 20)), [7, 37, 20]))))([aq, ak, av]);',
    // With a bias per group of slices (6 slices, 2 groups: the second thread starts at slice 3, in
    // group 1). The bias gradient sums per-thread partials, so it is only near-equal across counts.
    'const six = (t) => tf.slice(t, [0, 0, 0], [6, -1, -1]);',
    'const ab = tf.reshape(tf.slice(big, 5000, 2 * 37 * 29), [2, 37, 29]);',
    'const db = tf.grad((b) => tf.sum(tf.mul(attentionWithBias(six(aq), six(ak), six(av), b, 0.3), tf.reshape(tf.sin(tf.range(0, 6 * 37 * 20)), [6, 37, 20]))))(ab);',
    'const atb = attentionWithBias(six(aq), six(ak), six(av), ab, 0.3);',
    // Label propagation over a 24×40 grid with 3 contexts, split by query grid rows: long enough
    // (tens of ms a thread) that the threads overlap, as they must for a shared-stack race to show.
    'const pt = tf.mul(tf.reshape(tf.slice(big, 7000, 960 * 48), [960, 48]), 0.05);',
    'const ps = tf.mul(tf.reshape(tf.slice(big, 60000, 48 * 2880), [48, 2880]), 0.05);',
    'const pg = tf.abs(tf.reshape(tf.slice(big, 0, 3 * 2880), [3, 2880]));',
    "const pm = tf.engine().runKernel('SelfPatchNeighborhoodPropagation', { target: pt, sources: ps, segs: pg }, { h: 24, w: 40, radius: 6, topk: 5, temperature: 0.1 });",
    // A ViT block in eval mode as one kernel (2×197 tokens, 192 wide, hidden 768: its products,
    // LayerNorms and residual sums are all large enough to be split), against its ops one by one.
    'const bn1 = new LayerNorm(192, 1e-6), bat = new Attention(192, 3, { rng: new Rng(5) }), bn2 = new LayerNorm(192, 1e-6), bml = new Mlp(192, { hiddenFeatures: 768, rng: new Rng(6) });',
    '[bn1, bat, bn2, bml].forEach((m) => m.eval());',
    'const bx = tf.reshape(tf.slice(big, 0, 2 * 197 * 192), [2, 197, 192]);',
    'const bw = { norm1: bn1, qkv: bat.qkv, proj: bat.proj, norm2: bn2, fc1: bml.fc1, fc2: bml.fc2 };',
    'const bf = inferenceBlock(bx, bw, { heads: 3, scale: bat.scale, eps1: 1e-6, eps2: 1e-6 }).dataSync();',
    'const by = tf.add(bx, bat.forward(bn1.forward(bx)).out);',
    'const bo = tf.add(by, bml.forward(bn2.forward(by))).dataSync();',
    'const bsame = bf.every((v, i) => v === bo[i]);',
    'console.log(JSON.stringify({ info, kt: simdKernelThreads(), y: sum(y), yl: sum(yl), ym: sum(ym), am: sum(am), gx: sum(gx), gw: sum(gw), ge: sum(ge), gg: sum(gg), tr: sum(tr), ln: sum(ln), at: sum(at), dq: sum(dq), dk: sum(dk), dv: sum(dv), atb: sum(atb), db: sum(db), pm: sum(pm), blk: sum(tf.tensor(bf)), bsame }));',
  ];
  const one = runScript(body(1));
  const two = runScript(body(2), 30_000);
  assert.equal(one.status, 0, one.stderr);
  assert.equal(two.signal, null, `the 2-thread process did not exit by itself: ${two.stderr}`);
  assert.equal(two.status, 0, two.stderr);
  const r1 = JSON.parse(one.stdout.trim().split('\n').at(-1) as string);
  const r2 = JSON.parse(two.stdout.trim().split('\n').at(-1) as string);
  const kernels = r1.info.kernels;
  assert.ok(build === undefined || build === 'auto' ? ['simd', 'relaxed-simd'].includes(kernels) : kernels === build, `kernels ${kernels}, asked for ${build}`);
  assert.deepEqual(r1.info, { name: 'wasm', reason: 'requested', threads: 1, kernels });
  assert.deepEqual(r2.info, { name: 'wasm', reason: 'requested', threads: 2, kernels });
  for (const k of ['y', 'gx', 'gw', 'db']) {
    assert.ok(Number.isFinite(r1[k]), k);
    assert.ok(Math.abs(r1[k] - r2[k]) <= 1e-5 * Math.abs(r1[k]), `${k}: ${r1[k]} vs ${r2[k]}`);
  }
  assert.equal(r1.kt, 1);
  assert.equal(r2.kt, 2);
  assert.ok(Math.abs(r1.yl - r1.y) <= 1e-5 * Math.abs(r1.y), `packed ${r1.yl} vs ${r1.y}`);
  assert.ok(r1.bsame && r2.bsame, `the fused block equals its ops one by one (1 thread: ${r1.bsame}, 2 threads: ${r2.bsame})`);
  for (const k of ['yl', 'ym', 'am', 'ge', 'gg', 'tr', 'ln', 'at', 'dq', 'dk', 'dv', 'atb', 'pm', 'blk']) {
    assert.ok(Number.isFinite(r1[k]) && r1[k] !== 0, k);
    assert.equal(r2[k], r1[k], `${k} split over threads`);
  }
});

test('invalid thread counts are a ConfigError naming the option', () => {
  const r = runScript([
    "import { initBackend } from '@selfpatch/backend';",
    "try { await initBackend('wasm', { threads: 0 }); } catch (e) { console.log(JSON.stringify({ name: e.name, key: e.key, msg: e.message })); }",
  ]);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
  assert.equal(out.name, 'ConfigError');
  assert.match(out.msg, /threads/);
});

test('an unexpected pthread worker script is refused with a typed error', () => {
  assert.throws(() => rewriteWorkerScript('postMessage(1)', '/x/glue.js'), BackendUnavailableError);
  const branch =
    'if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}else{var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)}';
  assert.equal(rewriteWorkerScript(`a;${branch}b`, '/x/glue.js'), 'a;importScripts("/x/glue.js");b');
});
