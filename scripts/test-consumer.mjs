#!/usr/bin/env node
/**
 * Consumer test (`npm run test:consumer`; `.ci/run` runs it): what a user of the published
 * packages gets, checked outside the repository.
 *
 * 1. Packs every public package with `npm pack` (each package's `prepack` builds it and what it
 *    depends on) and checks that every `exports` target, `main`, `types` and `bin` file is in its
 *    tarball.
 * 2. Installs the tarballs into a fresh project in a temporary folder, beside registry
 *    dependencies only (tfjs-core, sharp, typescript, esbuild).
 * 3. In that project: every package and subpath export imports in Node ESM; a file importing all
 *    of them type-checks under `module: node16` and `module: esnext` + `moduleResolution: bundler`
 *    (declaration files checked too); data's browser entry type-checks with DOM types and the
 *    `browser` condition; an esbuild browser bundle of the library packages and the backend's
 *    browser entry builds with no `node:` import; the installed bins run:
 *    `selfpatch-train --preset demo --max-steps 1`, `selfpatch-eval --help`,
 *    `selfpatch-infer --help`, and `selfpatch-infer web` serves the packaged browser app.
 *
 * `--after-version` packs from a copy of the working tree after `changeset version` (the next
 * release's versions and internal dependency ranges) instead of the tree as it is. `--keep` keeps
 * the temporary folder. Exits 1 when any check fails.
 *
 * Written by hand: it only sequences npm, tsc, esbuild and the CLIs; no library does that part.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const afterVersion = process.argv.includes('--after-version');
const keep = process.argv.includes('--keep');
const work = mkdtempSync(join(tmpdir(), 'selfpatch-consumer-'));
const failures = [];
const t0 = Date.now();

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));

function run(cmd, args, options = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...options });
}

function must(label, r) {
  if (r.status !== 0) {
    const tail = (s) => (s ?? '').split('\n').slice(-40).join('\n');
    throw new Error(`${label}: exit ${r.status ?? r.signal}\n${tail(r.stdout)}\n${tail(r.stderr)}`);
  }
  return r;
}

async function check(label, fn) {
  try {
    await fn();
    console.log(`ok    ${label}`);
  } catch (err) {
    failures.push(label);
    console.log(`FAIL  ${label}\n${String(err.message ?? err).replace(/^/gm, '      ')}`);
  }
}

/** Public workspace packages: dir and package.json, from the root `workspaces` globs (`dir/*` or `dir`). */
function publicPackages(base) {
  const dirs = readJson(join(base, 'package.json')).workspaces.flatMap((w) =>
    w.endsWith('/*') ? readdirSync(join(base, w.slice(0, -2)), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(base, w.slice(0, -2), e.name)) : [join(base, w)],
  );
  return dirs
    .filter((d) => existsSync(join(d, 'package.json')))
    .map((dir) => ({ dir, json: readJson(join(dir, 'package.json')) }))
    .filter((p) => !p.json.private);
}

/** Every file path an `exports` map, `main`, `types` or `bin` names. */
function declaredTargets(json) {
  const walk = (e) => (typeof e === 'string' ? [e] : Array.isArray(e) ? e.flatMap(walk) : e && typeof e === 'object' ? Object.values(e).flatMap(walk) : []);
  const bins = typeof json.bin === 'string' ? [json.bin] : Object.values(json.bin ?? {});
  return [...new Set([...walk(json.exports ?? {}), json.main, json.types, ...bins].filter(Boolean).map((t) => t.replace(/^\.\//, '')))];
}

/** Subpaths a consumer can import: `exports` keys without patterns. */
function importSpecifiers(json) {
  const keys = json.exports && typeof json.exports === 'object' && Object.keys(json.exports).some((k) => k.startsWith('.')) ? Object.keys(json.exports) : ['.'];
  return keys.filter((k) => !k.includes('*') && !k.endsWith('.json')).map((k) => (k === '.' ? json.name : `${json.name}/${k.slice(2)}`));
}

// -- 1. Pack ------------------------------------------------------------------------------------
let source = repo;
if (afterVersion) {
  // A copy of the working tree (tracked and new files, minus ignored ones) to run `changeset version` in.
  source = join(work, 'repo');
  const files = must('git ls-files', run('git', ['-C', repo, 'ls-files', '-co', '--exclude-standard', '-z'])).stdout.split('\0').filter(Boolean);
  for (const f of files) if (existsSync(join(repo, f))) cpSync(join(repo, f), join(source, f), { recursive: true });
  must('changeset version', run(process.execPath, [join(repo, 'node_modules', '@changesets', 'cli', 'bin.js'), 'version'], { cwd: source }));
  // The built outputs come from the repository (the code is the same; only versions change), built first.
  must('build', run('npx', ['turbo', 'run', 'build', '--output-logs=errors-only'], { cwd: repo }));
  must('build:web', run('npm', ['run', 'build:web', '-w', '@selfpatch/infer'], { cwd: repo }));
  for (const p of publicPackages(repo)) {
    for (const out of ['dist', 'generated', 'dist-web']) {
      if (existsSync(join(p.dir, out))) cpSync(join(p.dir, out), join(source, p.dir.slice(repo.length + 1), out), { recursive: true });
    }
  }
}
const packages = publicPackages(source);
const tarballs = join(work, 'tarballs');
mkdirSync(tarballs);
const packed = new Map();
for (const p of packages) {
  await check(`pack ${p.json.name}@${p.json.version}${afterVersion ? ' (after changeset version)' : ''}`, () => {
    const args = ['pack', '--json', '--pack-destination', tarballs, ...(afterVersion ? ['--ignore-scripts'] : [])];
    const r = must('npm pack', run('npm', args, { cwd: p.dir }));
    // prepack's own output (builds) comes first on stdout; npm's JSON report is the last top-level array.
    const start = [...r.stdout.matchAll(/^\[\s*\{/gm)].at(-1)?.index;
    if (start === undefined) throw new Error(`no JSON report from npm pack:\n${r.stdout.slice(-2000)}`);
    const info = JSON.parse(r.stdout.slice(start))[0];
    packed.set(p.json.name, join(tarballs, info.filename));
    const files = new Set(info.files.map((f) => f.path));
    const missing = declaredTargets(p.json).filter((t) => (t.includes('*') ? ![...files].some((f) => new RegExp(`^${t.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace('\\*', '.*').replace('*', '.*')}$`).test(f)) : !files.has(t)));
    if (missing.length) throw new Error(`declared but not in the tarball: ${missing.join(', ')}`);
    if (p.json.name === '@selfpatch/infer' && !files.has('dist-web/index.html')) throw new Error('the browser app build (dist-web/index.html) is not in the tarball');
  });
}
if (packed.size !== packages.length) {
  console.log(`\n${failures.length} check(s) failed before install; ${work} kept`);
  process.exit(1);
}

// -- 2. Install into a fresh project --------------------------------------------------------------
const app = join(work, 'app');
mkdirSync(join(app, 'src'), { recursive: true });
const versionOf = (name) => readJson(join(repo, 'node_modules', name, 'package.json')).version;
const names = [...packed.keys()];
writeFileSync(
  join(app, 'package.json'),
  JSON.stringify(
    {
      name: 'selfpatch-consumer',
      private: true,
      type: 'module',
      dependencies: { ...Object.fromEntries(names.map((n) => [n, `file:${packed.get(n)}`])), '@tensorflow/tfjs-core': versionOf('@tensorflow/tfjs-core'), sharp: versionOf('sharp') },
      devDependencies: { typescript: versionOf('typescript'), esbuild: versionOf('esbuild'), '@types/node': versionOf('@types/node') },
      // Internal dependencies resolve to the same tarballs (the packages are not on the registry).
      overrides: Object.fromEntries(names.map((n) => [n, `$${n}`])),
    },
    null,
    2,
  ),
);
await check('npm install of the tarballs (registry dependencies only beside them)', () => {
  must('npm install', run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app }));
});

// -- 3. Use them ---------------------------------------------------------------------------------
const specifiers = packages.flatMap((p) => importSpecifiers(p.json));
await check(`Node ESM import of ${specifiers.length} entry points (${names.length} packages)`, () => {
  const script = `const failed = [];
for (const s of ${JSON.stringify(specifiers)}) { try { await import(s); } catch (e) { failed.push(s + ': ' + (e.message ?? e).split('\\n')[0]); } }
if (failed.length) { console.error(failed.join('\\n')); process.exit(1); }`;
  must('import', run(process.execPath, ['--input-type=module', '-e', script], { cwd: app }));
});

const ident = (s) => s.replace(/^@selfpatch\//, '').replace(/[^a-zA-Z0-9]/g, '_');
const mains = names.filter((n) => n !== '@selfpatch/train' && n !== '@selfpatch/infer').concat(['@selfpatch/train', '@selfpatch/infer']);
writeFileSync(join(app, 'src', 'all.ts'), `${mains.map((n) => `import * as ${ident(n)} from '${n}';`).join('\n')}\nexport const modules = [${mains.map(ident).join(', ')}].length;\n`);
writeFileSync(
  join(app, 'src', 'browser.ts'),
  `import { decodeImage, multiCrop, SELFPATCH_MULTICROP, Rng } from '@selfpatch/data';
export async function crops(blob: Blob) {
  const img = await decodeImage(blob);
  return multiCrop(img, new Rng(0), SELFPATCH_MULTICROP);
}
`,
);
const tsc = join(app, 'node_modules', 'typescript', 'bin', 'tsc');
const strict = ['--strict', '--noEmit', '--target', 'es2022', '--skipLibCheck', 'false'];
await check('type-check of every package under module node16 (declaration files included)', () => {
  must('tsc node16', run(process.execPath, [tsc, ...strict, '--module', 'node16', '--moduleResolution', 'node16', '--lib', 'es2023,dom', 'src/all.ts'], { cwd: app }));
});
await check('type-check of every package under module esnext + moduleResolution bundler', () => {
  must('tsc bundler', run(process.execPath, [tsc, ...strict, '--module', 'esnext', '--moduleResolution', 'bundler', '--lib', 'es2023,dom', 'src/all.ts'], { cwd: app }));
});
await check("type-check of data's browser entry (bundler, DOM types, browser condition): decodeImage(Blob) → multiCrop", () => {
  must('tsc browser', run(process.execPath, [tsc, ...strict, '--module', 'esnext', '--moduleResolution', 'bundler', '--customConditions', 'browser', '--lib', 'es2023,dom', 'src/browser.ts'], { cwd: app }));
});

const browserLibs = ['@selfpatch/vit', '@selfpatch/swin', '@selfpatch/selfpatch', '@selfpatch/ssl', '@selfpatch/data', '@selfpatch/eval', '@selfpatch/backend'].filter((n) => packed.has(n));
await check(`esbuild browser bundle of ${browserLibs.map((n) => n.slice(11)).join(', ')} has no node: import`, () => {
  writeFileSync(join(app, 'src', 'web.ts'), `${browserLibs.map((n) => `export * as ${ident(n)} from '${n}';`).join('\n')}\n`);
  const script = `import { build } from 'esbuild';
const r = await build({ entryPoints: ['src/web.ts'], bundle: true, platform: 'browser', format: 'esm', outfile: 'web-bundle.js', logLevel: 'error', metafile: true });
const nodeImports = Object.values(r.metafile.outputs).flatMap((o) => o.imports).filter((i) => i.path.startsWith('node:') || i.external);
if (nodeImports.length) { console.error(JSON.stringify(nodeImports)); process.exit(1); }
const kb = (Object.values(r.metafile.outputs)[0].bytes / 1024).toFixed(0);
console.log(kb + ' KB');`;
  const r = must('esbuild', run(process.execPath, ['--input-type=module', '-e', script], { cwd: app }));
  if (/node:/.test(readFileSync(join(app, 'web-bundle.js'), 'utf8').match(/(?:from|import|require)\s*\(?\s*["']node:[^"']+["']/g)?.join('') ?? '')) throw new Error('node: import in the bundle');
  console.log(`      bundle: ${r.stdout.trim()}`);
});

// README examples, as shipped in the tarballs: the block under "## Example" must type-check and run
// in this fresh project; every other TypeScript block must type-check (no stale API in the docs).
const examples = [];
for (const n of names) {
  const readme = join(app, 'node_modules', n, 'README.md');
  if (!existsSync(readme)) continue;
  const text = readFileSync(readme, 'utf8');
  const example = /^## Example[^\n]*\n+```ts\n([\s\S]*?)```/m.exec(text)?.[1];
  const blocks = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  blocks.forEach((code, i) => {
    const file = join('readme', `${ident(n)}-${i}.ts`);
    examples.push({ pkg: n, file, code, run: code === example });
  });
}
mkdirSync(join(app, 'readme'), { recursive: true });
// Bundler asset imports (`?url`) as the browser examples use them.
writeFileSync(join(app, 'readme', 'assets.d.ts'), "declare module '*?url' {\n  const url: string;\n  export default url;\n}\n");
for (const e of examples) writeFileSync(join(app, e.file), `${e.code}\nexport {};\n`);
await check(`README TypeScript blocks type-check (${examples.length} blocks in ${new Set(examples.map((e) => e.pkg)).size} READMEs)`, () => {
  must('tsc readme', run(process.execPath, [tsc, ...strict, '--module', 'esnext', '--moduleResolution', 'bundler', '--lib', 'es2023,dom', 'readme/assets.d.ts', ...examples.map((e) => e.file)], { cwd: app }));
});
for (const e of examples.filter((x) => x.run)) {
  await check(`README example of ${e.pkg} runs`, () => {
    const js = e.file.replace(/\.ts$/, '.mjs');
    const script = `import { transformSync } from 'esbuild'; import { readFileSync, writeFileSync } from 'node:fs';
writeFileSync(${JSON.stringify(js)}, transformSync(readFileSync(${JSON.stringify(e.file)}, 'utf8'), { loader: 'ts', format: 'esm', target: 'es2022' }).code);`;
    must('transform', run(process.execPath, ['--input-type=module', '-e', script], { cwd: app }));
    must(e.file, run(process.execPath, [js], { cwd: app, timeout: 300_000 }));
  });
}
for (const n of names.filter((x) => !examples.some((e) => e.pkg === x && e.run) && !['@selfpatch/train', '@selfpatch/infer'].includes(x))) {
  await check(`README of ${n} has a runnable "## Example"`, () => {
    throw new Error('no ```ts block under a "## Example" heading');
  });
}

await check('npx selfpatch-train --preset demo --max-steps 1 (from the installed tarball)', () => {
  const r = must('selfpatch-train', run('npx', ['--no-install', 'selfpatch-train', '--preset', 'demo', '--max-steps', '1', '--out', 'runs/demo'], { cwd: app, timeout: 600_000 }));
  if (!existsSync(join(app, 'runs', 'demo', 'metrics.jsonl'))) throw new Error(`no metrics.jsonl written\n${r.stderr}`);
  if (!/npx selfpatch-train report/.test(r.stdout)) throw new Error(`next steps do not name the installed bin:\n${r.stdout}`);
});
for (const bin of ['selfpatch-eval', 'selfpatch-infer']) {
  await check(`npx ${bin} --help`, () => {
    must(bin, run('npx', ['--no-install', bin, '--help'], { cwd: app, timeout: 120_000 }));
  });
}
await check('npx selfpatch-infer web serves the packaged browser app cross-origin isolated', async () => {
  const child = spawn('npx', ['--no-install', 'selfpatch-infer', 'web', '--port', '0'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  try {
    const url = await new Promise((ok, fail) => {
      let out = '';
      const timer = setTimeout(() => fail(new Error(`no URL printed:\n${out}`)), 60_000);
      child.stdout.on('data', (d) => {
        out += d;
        const m = /(http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          ok(m[1]);
        }
      });
      child.stderr.on('data', (d) => (out += d));
      child.on('exit', (code) => fail(new Error(`exited with ${code}:\n${out}`)));
    });
    const page = await fetch(url);
    if (page.status !== 200 || page.headers.get('cross-origin-embedder-policy') !== 'require-corp') throw new Error(`GET ${url}: ${page.status}`);
    if (!/<script/.test(await page.text())) throw new Error('index.html has no script');
  } finally {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
});

const secs = ((Date.now() - t0) / 1000).toFixed(0);
if (failures.length) {
  console.log(`\n${failures.length} consumer check(s) failed in ${secs} s; the project is kept in ${work}`);
  process.exit(1);
}
console.log(`\nall consumer checks passed in ${secs} s (${names.length} packages${afterVersion ? ', after changeset version' : ''})`);
if (!keep) rmSync(work, { recursive: true, force: true });
else console.log(`kept: ${work}`);
