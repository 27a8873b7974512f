import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { parsePth } from '@selfpatch/checkpoint';
import { requirePythonTorch } from '@selfpatch/nn/testing';
import { use } from '@selfpatch/backend/testing';
import { vitFromCheckpoint } from '@selfpatch/vit';
import { listCheckpoints, readTrainCheckpoint } from '../src/checkpoint.js';
import { interruptAfterStep, readTensors, tmp } from './helpers.js';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const main = join(appDir, 'src', 'main.ts');
const node = [process.execPath, '--conditions=source', '--import', 'tsx', main] as const;
/** The tiny test config as CLI flags (exercises the --<key> overrides). */
const TINY = ['--patch-size', '8', '--embed-dim', '48', '--depth', '2', '--num-heads', '2', '--global-crop-size', '32', '--local-crop-size', '24', '--out-dim', '256', '--out-dim-selfpatch', '128', '--hidden-dim', '64', '--bottleneck-dim', '32', '--epochs', '4', '--backend', 'cpu', '--num-workers', '0'];

function run(args: string[]) {
  return spawnSync(node[0], [...node.slice(1), ...args], { cwd: appDir, encoding: 'utf8', timeout: 300_000 });
}

test('CLI: invalid options exit 2 with one line naming the key', () => {
  const r = run(['--set', 'batch_sise=4']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /error: invalid option 'batch_sise'/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  const r2 = run(['--lr', '-3', '--out', tmp('bad')]);
  assert.equal(r2.status, 2);
  assert.match(r2.stderr, /invalid option 'lr'/);
});

test('CLI: SIGINT finishes the step, saves a checkpoint, exits 130; --resume then completes the run', async () => {
  const out = tmp('sigint');
  const { code, stderr, stdout } = await interruptAfterStep([...TINY, '--out', out, '--save-every', '100', '--log-every', '1'], 2, appDir, main);
  assert.equal(code, 130, stderr);
  assert.match(stderr, /SIGINT: finishing the current step/);
  assert.match(stdout, /--resume/);
  const files = listCheckpoints(out);
  assert.equal(files.length, 1, 'one checkpoint written on interrupt (save_every 100 would not have saved)');
  const at = readTrainCheckpoint(files[0] as string).position.iteration;
  assert.ok(at >= 2 && at < 12, `interrupted at ${at}`);
  const r = run([...TINY, '--out', out, '--save-every', '100', '--resume']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`resumed from .* at step ${at}`));
  assert.match(r.stdout, /teacher backbone: .*teacher_backbone\.safetensors/);
  const steps = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step);
  assert.deepEqual(steps, Array.from({ length: 12 }, (_, i) => i));
});

test('CLI: report renders HTML and PNG; export writes official-key safetensors and .pth that load back', async (t) => {
  const out = tmp('report');
  const r = run([...TINY, '--out', out, '--max-steps', '3']);
  assert.equal(r.status, 0, r.stderr);
  const html = join(out, 'report.html');
  assert.equal(run(['report', '--run', out]).status, 0);
  const page = readFileSync(html, 'utf8');
  assert.match(page, /<svg/);
  for (const title of ['loss terms', 'learning rate', 'teacher momentum', 'teacher temperature']) assert.ok(page.includes(title), title);
  const png = join(out, 'curves.png');
  assert.equal(run(['report', '--run', out, '--out', png]).status, 0);
  const meta = await sharp(png).metadata();
  assert.equal(meta.format, 'png');
  assert.ok((meta.width ?? 0) > 500);
  assert.equal(run(['report', '--run', out, '--out', join(out, 'x.pdf')]).status, 2);

  const exp = join(out, 'exported');
  const ckpt = listCheckpoints(out).at(-1) as string;
  const e = run(['export', '--checkpoint', ckpt, '--out', exp]);
  assert.equal(e.status, 0, e.stderr);
  const st = readTensors(join(exp, 'teacher_backbone.safetensors'));
  // Same values as the teacher inside the training checkpoint: the backbone without its prefix,
  // and SelfPatch's aggregation module under its official `ca_head.` keys (the image-level feature).
  const inner = readTrainCheckpoint(ckpt).objective.tensors;
  for (const [k, v] of st) assert.deepEqual(v.data, inner[k.startsWith('ca_head.') ? `teacher.${k}` : `teacher.backbone.${k}`]?.data, k);
  assert.ok(st.has('patch_embed.proj.weight') && st.has('blocks.1.mlp.fc2.bias') && st.has('pos_embed'));
  assert.ok(st.has('ca_head.cls_token') && st.has('ca_head.cls_blocks.1.mlp.fc2.bias') && st.has('ca_head.norm.weight'));
  const pth = parsePth(readFileSync(join(exp, 'teacher_backbone.pth'))) as Record<string, unknown>;
  assert.deepEqual(Object.keys(pth).sort(), [...st.keys()].sort());
  await use('cpu');
  for (const file of ['teacher_backbone.safetensors', 'teacher_backbone.pth']) {
    const vit = vitFromCheckpoint(readFileSync(join(exp, file)), { source: file, config: { numHeads: 2 } });
    assert.equal(vit.config.embedDim, 48);
    assert.equal(vit.config.depth, 2);
    vit.dispose();
  }
  const py = requirePythonTorch();
  if (py === null) return t.skip('python3 with torch is not installed (apt-get install python3-torch)');
  const check = spawnSync(py.python, ['-c', 'import sys,torch; sd=torch.load(sys.argv[1], weights_only=True); print(len(sd), tuple(sd["pos_embed"].shape))', join(exp, 'teacher_backbone.pth')], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stderr);
  assert.equal(check.stdout.trim(), `${st.size} (1, 16, 48)`);
  assert.ok(existsSync(join(exp, 'teacher_backbone.pth')));
});

test('the printed next steps use npm scripts inside the repository and the installed bin names elsewhere', async () => {
  const { nextCommands } = await import('../src/cli.js');
  assert.deepEqual(nextCommands({ npm_package_name: 'selfpatch-ts' }), { train: 'npm run train --', eval: 'npm run eval --', evalNote: null });
  const outside = nextCommands({ npm_package_name: 'my-app' });
  assert.equal(outside.train, 'npx selfpatch-train');
  assert.equal(outside.eval, 'npx selfpatch-eval');
  assert.match(outside.evalNote ?? '', /npm install @selfpatch\/eval/);
  assert.equal(nextCommands({}).train, 'npx selfpatch-train');
});

test('selfpatch-train --help lists every option of the default train command, each config key with a description', async () => {
  const { trainConfigSchema, CONFIG_HELP } = await import('../src/config.js');
  const r = run(['--help']);
  assert.equal(r.status, 0, r.stderr);
  for (const flag of ['--preset', '--config', '--resume', '--set']) assert.ok(r.stdout.includes(flag), flag);
  for (const key of Object.keys(trainConfigSchema.shape)) {
    const flag = key === 'max_steps' ? '--max-steps' : `--${key.replaceAll('_', '-')}`;
    const line = r.stdout.split('\n').find((l) => l.trimStart().startsWith(`${flag} `));
    assert.ok(line, `${flag} missing from --help`);
    assert.ok(line.includes(CONFIG_HELP[key as keyof typeof CONFIG_HELP].slice(0, 20)), `${flag} has no description`);
  }
});
