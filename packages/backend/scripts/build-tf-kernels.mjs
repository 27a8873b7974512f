#!/usr/bin/env node
// Builds native/tf-kernels.c into the Node-API addon that src/tf-kernels-node.ts loads, against
// the libtensorflow of each installed tfjs-node / tfjs-node-gpu (their deps/include and deps/lib).
// Needs a C compiler (CC, else clang-14, clang, gcc or cc); takes a few seconds. Skips a package
// whose addon is newer than the sources and its library.
//   node packages/backend/scripts/build-tf-kernels.mjs [--force]   (in an app: npx selfpatch-build-tf-kernels)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
const require = createRequire(join(root, 'package.json'));

function compiler() {
  const candidates = process.env.CC ? [process.env.CC] : ['clang-14', 'clang', 'gcc', 'cc'];
  for (const cc of candidates) if (spawnSync(cc, ['--version'], { stdio: 'ignore' }).status === 0) return cc;
  throw new Error(`no C compiler found (tried ${candidates.join(', ')}); install one (Debian: apt-get install gcc) or set CC`);
}

const sources = [join(root, 'native', 'tf-kernels.c'), join(root, 'native', 'tf-gelu.c'), join(root, 'native', 'parallel.h'), join(root, 'native', 'include', 'wasm_simd128.h'), ...readdirSync(join(root, 'csrc')).map((f) => join(root, 'csrc', f))];
const newest = (files) => Math.max(...files.map((f) => statSync(f).mtimeMs));

let built = 0;
for (const pkg of ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu']) {
  let pkgDir;
  try {
    pkgDir = dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    continue;
  }
  const deps = join(pkgDir, 'deps');
  const header = join(deps, 'include', 'tensorflow', 'c', 'kernels.h');
  const lib = join(deps, 'lib', 'libtensorflow_framework.so.2');
  if (!existsSync(header) || !existsSync(lib)) {
    console.error(`${pkg}: no libtensorflow in ${deps} (kernels.h, libtensorflow_framework.so.2); install it first (npm run setup:tfjs-node)`);
    process.exitCode = 1;
    continue;
  }
  const out = join(root, 'native', 'build', pkg.replace('@tensorflow/', ''), 'selfpatch_tf_kernels.node');
  if (!force && existsSync(out) && statSync(out).mtimeMs > newest([...sources, lib])) {
    console.log(`${pkg}: ${out} is up to date`);
    built++;
    continue;
  }
  mkdirSync(dirname(out), { recursive: true });
  const cc = compiler();
  // -ffp-contract=off: no fused multiply-adds, so results equal the wasm kernels' bit for bit.
  // -march: the addon is built where it runs, so by default for this CPU's vector units
  // (SELFPATCH_TF_KERNELS_MARCH=x86-64-v3, say, for an image that runs elsewhere).
  const march = process.env.SELFPATCH_TF_KERNELS_MARCH ?? 'native';
  const args = ['-O3', `-march=${march}`, '-std=c11', '-fPIC', '-shared', '-fvisibility=hidden', '-ffp-contract=off', '-Wall', '-Werror'];
  args.push('-I', join(root, 'native', 'include'), '-I', join(deps, 'include'));
  args.push('-o', `${out}.tmp`, join(root, 'native', 'tf-kernels.c'), join(root, 'native', 'tf-gelu.c'));
  args.push('-pthread', '-L', join(deps, 'lib'), '-l:libtensorflow_framework.so.2', `-Wl,-rpath,${join(deps, 'lib')}`);
  execFileSync(cc, args, { stdio: 'inherit' });
  renameSync(`${out}.tmp`, out);
  console.log(`${pkg}: built ${out} with ${cc} -march=${march}`);
  built++;
}
if (built === 0 && !process.exitCode) {
  console.error('neither @tensorflow/tfjs-node nor @tensorflow/tfjs-node-gpu is installed (npm run setup:tfjs-node installs the first)');
  process.exitCode = 1;
}
