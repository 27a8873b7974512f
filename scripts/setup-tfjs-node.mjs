#!/usr/bin/env node
/**
 * `npm run setup:tfjs-node [-- --gpu] [-- --offline]`: installs `@tensorflow/tfjs-node` (or
 * `-gpu`) into this workspace's node_modules without touching package.json or the lockfile, so
 * `--backend tensorflow` (and `auto`) use native TensorFlow.
 *
 * Two routes, tried in order:
 * 1. The package's own install script, which downloads libtensorflow from Google storage (and a
 *    prebuilt binding). Works wherever that host is reachable.
 * 2. Offline: the TensorFlow C API from the `tensorflow-cpu` wheel on the Python package index
 *    (`pip download`; its `libtensorflow_cc.so.2` exports the C API the binding uses), placed in
 *    the package's `deps/`, and the binding built from source with the package's own
 *    node-pre-gyp against the installed Node's headers (needs g++ and make). CPU only: a GPU
 *    build needs the CUDA libtensorflow, i.e. route 1.
 *
 * Then builds @selfpatch/backend's fused native kernels against it (build-tf-kernels.mjs).
 *
 * Idempotent: an installation that already loads and computes is left alone. Fails with one line
 * saying what is missing when neither route works.
 *
 * Written by hand (not a library): it is glue between npm, pip and node-pre-gyp specific to
 * tfjs-node's layout.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TFJS_VERSION = '4.22.0';
/** The TensorFlow whose C API the 4.22 binding is built against here (checked: matMul, grad, conv2d). */
const TF_WHEEL = 'tensorflow-cpu==2.21.0';
const gpu = process.argv.includes('--gpu');
const offlineOnly = process.argv.includes('--offline');
const pkg = gpu ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
const pkgDir = join(root, 'node_modules', ...pkg.split('/'));
const cacheDir = join(root, 'node_modules', '.cache', 'selfpatch-tfjs-node');

function log(line) {
  console.error(`setup:tfjs-node: ${line}`);
}

function fail(line) {
  console.error(`setup:tfjs-node: error: ${line}`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 26, ...opts });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, error: r.error };
}

/** Loads the package in a child process and runs a matMul on the tensorflow backend. */
function works() {
  const probe = `
    const tf = require(${JSON.stringify(pkg)});
    const a = tf.tensor2d([[1, 2], [3, 4]]);
    const v = Array.from(tf.matMul(a, a).dataSync());
    if (tf.getBackend() !== 'tensorflow' || v.join(',') !== '7,10,15,22') { console.error('wrong result ' + v); process.exit(1); }
    console.log(tf.version.tfjs + ' ' + (tf.backend().binding?.TF_Version ?? ''));`;
  const r = run(process.execPath, ['-e', probe], { cwd: root, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
  return r.ok ? { ok: true, out: r.out.trim() } : { ok: false, out: r.out.trim().split('\n').slice(-3).join(' | ') };
}

function installPackage() {
  if (existsSync(join(pkgDir, 'package.json'))) return;
  log(`installing ${pkg}@${TFJS_VERSION} (scripts off; package.json and the lockfile are not changed)`);
  const r = run('npm', ['install', '--no-save', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock', `${pkg}@${TFJS_VERSION}`], { cwd: root });
  if (!r.ok) fail(`npm install ${pkg}@${TFJS_VERSION} failed: ${r.out.trim().split('\n').slice(-3).join(' | ')}`);
}

function tryDownloadRoute() {
  log("route 1: the package's own install (downloads libtensorflow)");
  const r = run(process.execPath, [join(pkgDir, 'scripts', 'install.js'), ...(gpu ? ['gpu', 'download'] : [])], { cwd: pkgDir, timeout: 600_000 });
  if (r.ok && works().ok) return true;
  const lines = r.out.split('\n');
  // The network failure says the most; the stack's first line ("throw er") says nothing.
  const why = lines.find((l) => /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|getaddrinfo/.test(l)) ?? lines.find((l) => /Error:/.test(l)) ?? lines[0] ?? '';
  log(`route 1 did not work (${why.trim().slice(0, 200)}); trying the offline build`);
  return false;
}

function pythonWithPip() {
  for (const py of ['python3', 'python']) if (run(py, ['-m', 'pip', '--version']).ok) return py;
  return null;
}

function fetchWheel() {
  mkdirSync(cacheDir, { recursive: true });
  const have = readdirSync(cacheDir).find((f) => f.startsWith('tensorflow_cpu-') && f.endsWith('.whl'));
  if (have) return join(cacheDir, have);
  const py = pythonWithPip();
  if (!py) fail('route 2 needs python3 with pip to fetch the tensorflow-cpu wheel; install python3-pip, or make Google storage reachable for route 1');
  log(`route 2: pip download ${TF_WHEEL}`);
  // Few retries: an unreachable default index must not stall the local one for minutes.
  const r = run(py, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--retries', '1', '--timeout', '15', '-d', cacheDir, TF_WHEEL], { timeout: 1_800_000 });
  const wheel = readdirSync(cacheDir).find((f) => f.startsWith('tensorflow_cpu-') && f.endsWith('.whl'));
  if (!r.ok || !wheel) fail(`pip download ${TF_WHEEL} failed: ${r.out.trim().split('\n').slice(-2).join(' | ')}`);
  return join(cacheDir, wheel);
}

function unpackCApi(wheel) {
  const deps = join(pkgDir, 'deps');
  rmSync(deps, { recursive: true, force: true });
  mkdirSync(join(deps, 'lib'), { recursive: true });
  const py = pythonWithPip() ?? 'python3';
  // zipfile instead of unzip(1), which is not on every machine.
  const extract = `
import sys, zipfile, os, shutil
whl, deps = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        if n.startswith('tensorflow/include/'):
            dst = os.path.join(deps, 'include', n[len('tensorflow/include/'):])
        elif n in ('tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'):
            dst = os.path.join(deps, 'lib', os.path.basename(n))
        else:
            continue
        if n.endswith('/'):
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with z.open(n) as src, open(dst, 'wb') as out:
            shutil.copyfileobj(src, out)
`;
  log('unpacking the TensorFlow C API (headers, libtensorflow_cc, libtensorflow_framework)');
  const r = run(py, ['-c', extract, wheel, deps]);
  if (!r.ok) fail(`could not unpack ${wheel}: ${r.out.trim().split('\n').slice(-2).join(' | ')}`);
  const lib = join(deps, 'lib');
  for (const f of ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2']) {
    if (!existsSync(join(lib, f))) fail(`${wheel} has no tensorflow/${f}`);
    // Debug symbols are a third of the size and unused.
    if (!run('strip', ['--strip-unneeded', join(lib, f)]).ok) log(`strip unavailable or failed on ${f} (kept unstripped)`);
  }
  symlinkSync('libtensorflow_cc.so.2', join(lib, 'libtensorflow.so'));
  symlinkSync('libtensorflow_framework.so.2', join(lib, 'libtensorflow_framework.so'));
  if (!existsSync(join(deps, 'include', 'tensorflow', 'c', 'c_api.h'))) fail(`${wheel} has no tensorflow/c/c_api.h`);
}

/** The prefix whose include/node holds this Node's headers, so node-gyp downloads nothing. */
function nodeDir() {
  const prefix = dirname(dirname(process.execPath));
  for (const p of [prefix, '/usr', '/usr/local']) if (existsSync(join(p, 'include', 'node', 'node_api.h'))) return p;
  return null;
}

function buildBinding() {
  const nodedir = nodeDir();
  if (!nodedir) fail(`no Node headers found (include/node/node_api.h under ${dirname(dirname(process.execPath))}); install the Node development headers`);
  for (const tool of ['g++', 'make']) if (!run('which', [tool]).ok) fail(`route 2 builds the binding from source and needs ${tool} (apt-get install g++ make)`);
  const req = createRequire(join(pkgDir, 'package.json'));
  let preGyp;
  try {
    preGyp = join(dirname(req.resolve('@mapbox/node-pre-gyp/package.json')), 'bin', 'node-pre-gyp');
  } catch {
    fail(`${pkg} has no @mapbox/node-pre-gyp dependency installed`);
  }
  log('building the binding from source (about 2 minutes)');
  const env = { ...process.env, npm_config_nodedir: nodedir, npm_config_build_from_source: 'true' };
  const r = run(process.execPath, [preGyp, 'install', '--build-from-source'], { cwd: pkgDir, env, timeout: 1_800_000 });
  if (!r.ok) fail(`building the binding failed: ${r.out.trim().split('\n').slice(-6).join(' | ').slice(0, 1500)}`);
}

function main() {
  const before = existsSync(join(pkgDir, 'package.json')) ? works() : { ok: false };
  if (before.ok) {
    log(`${pkg} already works (${before.out}); nothing to do`);
    return;
  }
  installPackage();
  if (!offlineOnly && !gpu && process.env.TFJS_NODE_OFFLINE !== '1' && tryDownloadRoute()) {
    log(`${pkg} installed (downloaded libtensorflow): ${works().out}`);
    return;
  }
  if (gpu) {
    if (tryDownloadRoute()) return log(`${pkg} installed: ${works().out}`);
    fail('the GPU build needs the CUDA libtensorflow that its install script downloads; make storage.googleapis.com reachable (or set TFJS_NODE_BASE_URI to a mirror)');
  }
  const wheel = fetchWheel();
  unpackCApi(wheel);
  buildBinding();
  const after = works();
  if (!after.ok) fail(`the binding was built but does not work: ${after.out}`);
  const size = readdirSync(join(pkgDir, 'deps', 'lib')).reduce((s, f) => s + lstatSync(join(pkgDir, 'deps', 'lib', f)).size, 0);
  log(`${pkg} installed offline (TensorFlow C API from ${TF_WHEEL}, ${(size / 2 ** 20).toFixed(0)} MB): ${after.out}`);
}

/**
 * The fused GELU/LayerNorm/AdamW/EMA ops for the native backend (@selfpatch/backend's
 * native/tf-kernels.c), built against the libtensorflow just installed. Without them the backend
 * still works, on tfjs's composites, so a failure here is reported, not fatal.
 */
function buildFusedKernels() {
  const script = join(root, 'packages', 'backend', 'scripts', 'build-tf-kernels.mjs');
  if (!existsSync(script)) return;
  const r = run(process.execPath, [script], { cwd: root });
  if (r.ok) log(r.out.trim().split('\n').pop());
  else log(`warning: the fused native kernels were not built, the tensorflow backend runs tfjs's composites: ${r.out.trim().split('\n').slice(-3).join(' | ')}`);
}

try {
  main();
  buildFusedKernels();
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}
