/**
 * `selfpatch-train`: command line of the pretraining app (commander for parsing, cli-progress for
 * the TTY progress bar). `train` (default): preset ← --config file ← --set/--<key> overrides, then
 * validation, backend selection, the loop in run.ts. `report`: curves of a run. `export`: teacher
 * backbone of a checkpoint with the official keys. `presets`: list the presets.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, dirname, resolve, join, relative } from 'node:path';
import { Command, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { parse as parseYaml } from 'yaml';
import { runCliMain } from '@selfpatch/checkpoint/node';
import { ConfigError } from '@selfpatch/nn';
import { describeBackend, initBackend } from '@selfpatch/backend';
import { CONFIG_HELP, DEFAULT_PRESET, PRESETS, parseOverrides, readConfigFile, resolveConfig, trainConfigSchema } from './config.js';
import { train, type MetricsRecord } from './run.js';
import { writeReport } from './report.js';
import { exportCheckpoint } from './export.js';
import { describeRecipe, recipeSummary } from './recipe-notes.js';

const CONFIG_KEYS = Object.keys(trainConfigSchema.shape);
const FLAG_ALIASES: Record<string, string> = { data: 'data', out: 'out', max_steps: 'max-steps', backend: 'backend' };

function flagOf(key: string): string {
  return FLAG_ALIASES[key] ?? key.replaceAll('_', '-');
}

function intOption(name: string, min: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new ConfigError(name, `expected an integer >= ${min}, got '${v}'`);
    return n;
  };
}

function camel(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function fmtTerms(terms: Record<string, number>): string {
  return Object.entries(terms)
    .map(([k, v]) => `${k} ${v.toFixed(4)}`)
    .join(' ');
}

function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}

/**
 * Without --out every run gets its own directory (`<preset out>-<timestamp>`), so running the
 * same command twice never collides; `--resume` without --out picks the newest of them.
 */
function defaultOut(base: string, resume: boolean): string {
  if (!resume) return `${base}-${new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
  const dir = dirname(resolve(base));
  const prefix = `${basename(base)}-`;
  const runs = existsSync(dir) ? readdirSync(dir).filter((d) => d.startsWith(prefix)).sort() : [];
  return runs.length ? join(dir, runs[runs.length - 1] as string) : base;
}

async function runTrain(opts: Record<string, unknown>): Promise<number> {
  const fromFile = typeof opts.config === 'string' ? readConfigFile(opts.config) : {};
  const fromFlags: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const v = opts[camel(flagOf(key))];
    if (typeof v === 'string') fromFlags[key] = key === 'data' || key === 'out' ? v : parseYaml(v);
  }
  const overrides = parseOverrides((opts.set as string[] | undefined) ?? []);
  const explicitOut = [fromFile, overrides, fromFlags].some((l) => 'out' in l);
  let config = resolveConfig(String(opts.preset), fromFile, overrides, fromFlags);
  if (!explicitOut) config = { ...config, out: defaultOut(config.out, opts.resume === true) };
  // A changed recipe (a smaller batch on one machine, another temperature) is said before any work.
  const recipe = recipeSummary(String(opts.preset), config);
  if (recipe.changes.length > 0) for (const line of describeRecipe(recipe).slice(2)) console.error(line.replace(/^ {2}/, 'note: '));
  const backend = await initBackend(config.backend, { threads: config.threads });
  console.error(`backend: ${describeBackend(backend)}`);

  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: string) => {
    signals += 1;
    if (signals > 1) {
      console.error(`\n${sig} again: exiting now (the last checkpoint on disk is intact)`);
      process.exit(130);
    }
    console.error(`\n${sig}: finishing the current step, then saving a checkpoint (press again to quit at once)`);
    controller.abort();
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  const tty = process.stderr.isTTY === true;
  const bar = tty ? new SingleBar({ format: 'step {value}/{total} |{bar}| {ips} img/s ETA {eta_formatted} | loss {loss} | {terms}', hideCursor: true, etaBuffer: 20 }, undefined) : null;
  let started = false;
  const onStep = (m: MetricsRecord, total: number) => {
    const payload = { ips: m.img_per_s.toFixed(1), loss: m.loss.toFixed(4), terms: fmtTerms(m.terms) };
    if (bar) {
      if (!started) {
        bar.start(total, m.step, payload);
        started = true;
      }
      bar.update(m.step + 1, payload);
    } else if ((m.step + 1) % config.log_every === 0 || m.step + 1 === total) {
      console.error(`step ${m.step + 1}/${total} epoch ${m.epoch} loss ${m.loss.toFixed(4)} (${fmtTerms(m.terms)}) lr ${m.lr.toExponential(2)} ${m.img_per_s.toFixed(1)} img/s`);
    }
  };
  const t0 = performance.now();
  const result = await train(config, { resume: opts.resume === true, onStep, signal: controller.signal, log: (l) => console.error(l) });
  bar?.stop();
  const out = resolve(config.out);
  const rel = (p: string) => {
    const r = relative(process.cwd(), p);
    return r === '' ? '.' : r.startsWith('..') ? p : r;
  };
  console.error(`${result.interrupted ? 'interrupted' : 'finished'} at step ${result.iteration} in ${fmtDuration((performance.now() - t0) / 1000)}`);
  console.log(`checkpoint: ${result.checkpoint ? rel(result.checkpoint) : '(none)'}`);
  if (result.exported) console.log(`teacher backbone: ${rel(result.exported.safetensors)} and ${rel(result.exported.pth)} (official keys)`);
  console.log(`metrics:    ${rel(join(out, 'metrics.jsonl'))}`);
  const cmd = nextCommands();
  console.log('next:');
  if (result.interrupted) console.log(`  continue:  ${cmd.train} --preset ${String(opts.preset)} --out ${rel(out)} --resume  (same flags as this run)`);
  console.log(`  curves:    ${cmd.train} report --run ${rel(out)}`);
  if (result.exported) {
    console.log(`  attention: ${cmd.eval} visualize --checkpoint ${rel(result.exported.safetensors)} --image <image> --out ${rel(join(out, 'visualize'))}`);
    console.log(`  DAVIS:     ${cmd.eval} davis --checkpoint ${rel(result.exported.safetensors)} --davis <DAVIS root> --out ${rel(join(out, 'davis'))}`);
    if (cmd.evalNote) console.log(`             ${cmd.evalNote}`);
  }
  return result.interrupted ? 130 : 0;
}

/**
 * How to run the CLIs from where this one was started: the repository's npm scripts when run by
 * `npm run train` in the selfpatch-ts checkout, the installed bin names otherwise (eval is a
 * separate package, so its install line is printed with it).
 */
export function nextCommands(env: NodeJS.ProcessEnv = process.env): { train: string; eval: string; evalNote: string | null } {
  if (env.npm_package_name === 'selfpatch-ts') return { train: 'npm run train --', eval: 'npm run eval --', evalNote: null };
  return { train: 'npx selfpatch-train', eval: 'npx selfpatch-eval', evalNote: '(selfpatch-eval comes with `npm install @selfpatch/eval`)' };
}

/** The options section of `cmd`'s help, as commander formats it (terms, descriptions, defaults, choices). */
function optionList(cmd: Command): string {
  const help = cmd.createHelp();
  const options = help.visibleOptions(cmd);
  const width = Math.max(...options.map((o) => help.optionTerm(o).length));
  return options.map((o) => `  ${help.optionTerm(o).padEnd(width)}  ${help.optionDescription(o)}`).join('\n');
}

export function buildProgram(): Command {
  const program = new Command('selfpatch-train').description('SelfPatch / DINO / MoBY self-supervised pretraining on TensorFlow.js').showHelpAfterError();
  const trainCmd = program
    .command('train', { isDefault: true })
    .description('train (the default command); a preset, then --config, then overrides')
    .addOption(new Option('--preset <name>', 'preset').default(DEFAULT_PRESET).choices(Object.keys(PRESETS)))
    .option('--config <file>', 'JSON or YAML file of config keys')
    .option('--resume', 'continue from the newest checkpoint in --out')
    .option('--set <key=value...>', 'override config keys (values read as YAML)');
  for (const key of CONFIG_KEYS) trainCmd.option(`--${flagOf(key)} <value>`, CONFIG_HELP[key as keyof typeof CONFIG_HELP]);
  trainCmd.action(async (opts: Record<string, unknown>) => {
    process.exitCode = await runTrain(opts);
  });
  program
    .command('report')
    .description("render a run's curves (loss terms, lr, wd, momentum, temperature, img/s) to HTML, SVG or PNG")
    .requiredOption('--run <dir>', 'run directory (holds metrics.jsonl)')
    .option('--out <file>', 'output file (.html, .svg or .png; default <run>/report.html)')
    .action(async (opts: { run: string; out?: string }) => {
      const out = opts.out ?? join(opts.run, 'report.html');
      const r = await writeReport(join(opts.run, 'metrics.jsonl'), out, opts.run);
      console.log(`report of ${r.steps} steps: ${r.path}`);
    });
  program
    .command('export')
    .description('export the teacher backbone of a training checkpoint as safetensors and .pth (official keys)')
    .requiredOption('--checkpoint <file>', 'a checkpoints/checkpoint-*.safetensors file')
    .requiredOption('--out <dir>', 'output directory')
    .option('--backend <name>', 'auto | tensorflow | webgpu | wasm | cpu', 'auto')
    .action(async (opts: { checkpoint: string; out: string; backend: string }) => {
      await initBackend(opts.backend);
      mkdirSync(opts.out, { recursive: true });
      const r = exportCheckpoint(opts.checkpoint, opts.out);
      console.log(`${r.safetensors}\n${r.pth}`);
    });
  // `selfpatch-train --help` shows the default command's options too, not just the subcommands.
  program.addHelpText('after', () => `\nOptions of train, the default command (selfpatch-train --max-steps 10 = selfpatch-train train --max-steps 10):\n${optionList(trainCmd)}`);
  program
    .command('presets')
    .description("list the presets: source, global batch, peak lr, steps per epoch, warm-up steps, and what --set changes from the recipe")
    .argument('[name]', 'one preset (default: all)')
    .option('--images <n>', "training images the steps are counted on (default: the preset's dataset, ImageNet-1k train: 1281167)", intOption('--images', 1))
    .option('--set <key=value...>', 'override config keys, as for train')
    .option('--values', 'list every value of the preset with its source')
    .action((name: string | undefined, o: { images?: number; set?: string[]; values?: boolean }) => {
      const names = name ? [name] : Object.keys(PRESETS);
      for (const n of names) {
        const config = resolveConfig(n, parseOverrides(o.set ?? []));
        console.log(describeRecipe(recipeSummary(n, config, o.images)).join('\n').replace(/^(\S+):/, n === DEFAULT_PRESET ? '$1 (default):' : '$1:'));
        if (o.values) for (const [k, [v, src]] of Object.entries(PRESETS[n]?.values ?? {})) console.log(`    ${k} = ${JSON.stringify(v)}  ← ${src}`);
      }
    });
  return program;
}

/**
 * Runs the CLI with the shared error policy: one clear line per failure and a stable exit code
 * (2 invalid input, 3 non-finite loss, 4 failed write, 5 output folder busy, 130 interrupted,
 * 1 unexpected); the stack only with --verbose or DEBUG.
 */
export async function main(argv: string[] = process.argv): Promise<void> {
  const program = buildProgram();
  program.addHelpText('after', '\nAdd --verbose (or set DEBUG=1) to print the stack of an error.');
  await runCliMain(async (args) => {
    await program.parseAsync(args);
  }, argv);
}
