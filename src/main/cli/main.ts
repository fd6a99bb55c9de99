/**
 * `loupe`: the command line over the same core the app uses. The table in commands.ts checks the
 * arguments; this file opens the project and runs the command. Every command takes --json; every
 * failure prints one `loupe:` line and exits non-zero. Paths in output are relative to the project root.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LoupeError, toErrorInfo } from '../../shared/errors';
import { splitNames, type DatasetStats, type ImageId, type ImportKind, type JobInfo, type SplitName } from '../../shared/types';
import { Core } from '../core';
import { startServer } from '../server/server';
import { trainCommand } from './train';
import { issuesForProject } from './issuesValues';
import { binCommand, unbinCommand } from './values';
import { predictCommand } from './predict';
import { lrFindCommand, sanityCommand } from './trainTools';
import { fixLeakageCommand, healthCommand } from './health';
import { diagnoseCommand, ensembleCommand, goalCommand, reportCommand, searchCommand } from './experiments';
import { writePreviewFiles } from '../augment/previewFiles';
import { requireClass } from '../store/classes';
import { requireImagesByPath } from '../store/images';
import { usageLine, type CommandSpec, type Options } from './commands';
import { parseCommandLine, pathsOf } from './parse';

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

async function main(argv: string[]): Promise<number> {
  let isJson = argv.includes('--json');
  try {
    const parsed = parseCommandLine(argv);
    if (parsed.kind === 'help') {
      console.log(parsed.text);
      return 0;
    }
    isJson = parsed.options.json === true;
    return await run(parsed.spec, parsed.options, parsed.args);
  } catch (error) {
    const info = toErrorInfo(error);
    if (isJson) console.log(JSON.stringify({ error: info }));
    // One line, always; the stack of an unexpected error only on request.
    console.error(`loupe: ${info.message.replace(/\s*\n\s*/g, ' ')}`);
    if (info.code === 'INTERNAL' && process.env.LOUPE_DEBUG && error instanceof Error) console.error(error.stack);
    return info.code === 'VALIDATION' ? 2 : 1;
  }
}

async function run(spec: CommandSpec, options: Options, args: string[]): Promise<number> {
  const command = spec.name;
  // Read paths before opening: a bad --from-file changes nothing.
  const paths = spec.takesPaths ? await pathsOf(spec, options, args) : [];
  // Serve mode, like the app, prepares a finished run's review queues at once; other commands exit without waiting for that.
  const core = new Core({ warmQueues: command === 'serve' });
  const print = (json: unknown, text: string) => console.log(options.json ? JSON.stringify(json) : text);
  try {
    await openProject(core, spec, options);
    switch (command) {
      case 'import': {
        const { jobId } = await core.call('dataset:import', {
          source: args[0]!,
          kind: options.kind as ImportKind | undefined,
          root: options.root === undefined ? undefined : path.resolve(options.root),
        });
        const unsubscribe = options.json ? () => {} : core.subscribe((event, payload) => {
          if (event === 'jobs:update') reportProgress(payload as JobInfo);
          if (event === 'jobs:log') process.stderr.write(`  ${(payload as { line: string }).line}\n`);
        });
        const stop = () => core.jobs.cancel(jobId);
        process.once('SIGINT', stop);
        const job = await core.jobs.finished(jobId);
        process.off('SIGINT', stop);
        unsubscribe();
        if (job.state === 'failed') throw job.error ?? new LoupeError('INTERNAL', 'import failed');
        const summary = job.result as Record<string, number>;
        print(
          { state: job.state, ...summary },
          `${job.state === 'cancelled' ? 'Cancelled' : 'Imported'}: ${summary.added} added, ${summary.updated} updated, ` +
            `${summary.unchanged} unchanged, ${summary.unreadable} unreadable, ${summary.missing} missing (version ${summary.version})`,
        );
        return job.state === 'cancelled' ? 130 : 0;
      }
      case 'stats': {
        const stats = await core.call('dataset:stats', {});
        print(stats, formatStats(stats));
        return 0;
      }
      case 'relabel': {
        const className = options.to!;
        if (!options.create) requireClass(core.requireProject().db, className);
        const result = await core.call('images:relabel', { ids: idsOf(core, paths), className });
        print(result, `${result.description} (version ${result.version})`);
        return 0;
      }
      case 'remove':
      case 'restore': {
        const result = await core.call(command === 'remove' ? 'images:remove' : 'images:restore', { ids: idsOf(core, paths) });
        print(result, `${result.description} (version ${result.version})`);
        return 0;
      }
      case 'undo':
      case 'redo': {
        const result = await core.call(command === 'undo' ? 'changes:undo' : 'changes:redo', {});
        print(result, `${result.description} (version ${result.version})`);
        return 0;
      }
      case 'export': {
        const result = await core.call('dataset:export', {
          format: options.format as 'csv' | 'folders',
          out: options.out!,
          link: options.hardlink ? 'hardlink' : 'copy',
        });
        print(result, `Exported ${result.files} file(s) to ${result.out} (version ${result.version})`);
        return 0;
      }
      case 'classes': {
        const classes = await core.call('classes:list', {});
        print(
          { classes },
          classes.map((c) => `${c.name}: ${c.total} (${c.train}/${c.valid}/${c.test}), ${c.removed} removed`).join('\n'),
        );
        return 0;
      }
      case 'rename':
      case 'merge': {
        const [from, to] = args as [string, string];
        if (command === 'merge' && options['dry-run']) {
          const preview = await core.call('classes:previewMerge', { from, into: to });
          print(preview, `Merging ${preview.from} into ${preview.into} would move ${preview.images} image(s)`);
          return 0;
        }
        const result =
          command === 'rename'
            ? await core.call('classes:rename', { from, to })
            : await core.call('classes:merge', { from, into: to });
        print(result, `${result.description} (version ${result.version})`);
        return 0;
      }
      case 'delete-class': {
        const result = await core.call('classes:delete', { name: args[0]! });
        print(result, `${result.description} (version ${result.version})`);
        return 0;
      }
      case 'split': {
        const request = splitOptions(options);
        if (options['dry-run']) {
          const plan = await core.call('splits:plan', request);
          print(plan, `Would move ${plan.moved} image(s); ${plan.duplicateGroups} duplicate group(s) kept together`);
          return 0;
        }
        const result = await core.call('splits:apply', request);
        print(result, `${result.description}: ${result.changed} image(s) moved (version ${result.version})`);
        return 0;
      }
      case 'versions': {
        const list = await core.call('versions:list', { limit: 500 });
        print(
          list,
          list.rows
            .map((b) => `v${b.version}  ${new Date(b.at).toISOString()}  ${b.kind.padEnd(6)}  ${b.description}${b.undone ? ' (undone)' : ''}`)
            .join('\n'),
        );
        return 0;
      }
      case 'diff': {
        const [from, to] = args.map(Number);
        if (!Number.isInteger(from) || !Number.isInteger(to)) {
          throw new LoupeError('VALIDATION', `diff needs two version numbers (loupe versions lists them): ${usageLine(spec)}`);
        }
        const diff = await core.call('versions:diff', { from: from!, to: to!, limit: 10_000 });
        print(
          diff,
          diff.rows.map((r) => `${r.path ?? `class ${r.className}`}  ${r.field}: ${r.from ?? '-'} -> ${r.to ?? '-'}`).join('\n') +
            `\n${diff.total} change(s) between v${diff.from} and v${diff.to}`,
        );
        return 0;
      }
      case 'augment-preview': {
        const n = Number(options.n ?? 12);
        const seed = Number(options.seed ?? 0);
        if (!Number.isInteger(n) || n < 1 || n > 64) throw new LoupeError('VALIDATION', '--n must be a whole number between 1 and 64');
        if (!Number.isInteger(seed) || seed < 0) throw new LoupeError('VALIDATION', '--seed must be a whole number of at least 0');
        const result = await writePreviewFiles(core, { image: options.image!, n, seed, preset: options.preset ?? 'standard', out: options.out! });
        print(
          result,
          `Wrote ${result.files.length} augmentations of ${result.image} (${result.preset}, ${result.width}x${result.height}, seed ${seed}) to ${result.out}` +
            result.errors.map((e) => `\n  failed: ${e}`).join(''),
        );
        return 0;
      }
      case 'serve': {
        const uiDir = path.join(packageRoot, 'out', 'renderer');
        // The contract is served either way (scripts and tests use it); the page needs the build.
        if (!fs.existsSync(path.join(uiDir, 'index.html'))) {
          process.stderr.write(`loupe: the UI is not built (${uiDir}); the API is served, the page is not. Run \`npm run build\` or use \`npm run serve\`.\n`);
        }
        const server = await startServer({ core, uiDir, port: options.port ? Number(options.port) : undefined });
        print({ url: server.url, port: server.port }, `Loupe is serving at ${server.url}`);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await server.close();
        return 0;
      }
      case 'train':
        return await trainCommand(core, options, print);
      case 'issues':
        return await issuesForProject(core, options, print);
      case 'predict':
        return await predictCommand(core, options, args, print);
      case 'lr-find':
        return await lrFindCommand(core, options, print);
      case 'sanity':
        return await sanityCommand(core, options, print);
      case 'health':
        return await healthCommand(core, options, print);
      case 'goal':
        return await goalCommand(core, options, print);
      case 'diagnose':
        return await diagnoseCommand(core, options, print);
      case 'search':
        return await searchCommand(core, options, print);
      case 'ensemble':
        return await ensembleCommand(core, options, print);
      case 'report':
        return await reportCommand(core, options, print);
      case 'fix-leakage':
        return await fixLeakageCommand(core, options, print);
      case 'bin':
        return await binCommand(core, options, print);
      case 'unbin':
        return await unbinCommand(core, print);
      default:
        throw new LoupeError('INTERNAL', `The command table names "${command}", which main.ts does not run.`);
    }
  } finally {
    await core.shutdown();
  }
}

function splitOptions(options: Options) {
  const parts = (options.ratios ?? '80,10,10').split(',').map((p) => Number(p.trim()));
  if (parts.length !== 3 || parts.some((p) => !Number.isFinite(p))) {
    throw new LoupeError('VALIDATION', '--ratios needs three numbers: train,valid,test (for example 80,10,10)');
  }
  const locked = (options.lock ?? []).flatMap((l) => l.split(','));
  for (const split of locked) {
    if (!(splitNames as readonly string[]).includes(split)) {
      throw new LoupeError('VALIDATION', `--lock takes train, valid or test, not "${split}"`);
    }
  }
  return {
    ratios: { train: parts[0]!, valid: parts[1]!, test: parts[2]! },
    locked: locked as SplitName[],
    seed: options.seed === undefined ? 1 : Number(options.seed),
  };
}

/** Opens the project the command works on, as its table entry says. */
async function openProject(core: Core, spec: CommandSpec, options: Options): Promise<void> {
  const file = options.project;
  if (file === undefined) {
    if (spec.project === 'optional') return;
    throw new LoupeError('VALIDATION', `${spec.name} needs --project P (a .loupe file).`);
  }
  if (spec.project === 'existing' && !fs.existsSync(file)) {
    throw new LoupeError('NOT_FOUND', `No project at ${file}. Create it with: loupe import FOLDER --project ${shellQuote(file)}`, { file });
  }
  await core.call('project:open', { file, create: spec.project !== 'existing' });
}

/** `text` as one shell word, quoted only where it needs to be. */
function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The ids of the images at `paths`, each image once. */
function idsOf(core: Core, paths: string[]): ImageId[] {
  return [...new Set(requireImagesByPath(core.requireProject().db, paths.map((p) => p.split(path.sep).join('/'))))];
}

let lastReport = 0;
function reportProgress(job: JobInfo): void {
  const p = job.progress;
  if (!p || job.state !== 'running' || Date.now() - lastReport < 1000) return;
  lastReport = Date.now();
  const eta = p.etaSeconds === null ? '' : `, ${Math.ceil(p.etaSeconds)} s left`;
  process.stderr.write(`  ${p.step} ${p.current}/${p.total} (${p.rate.toFixed(0)} images/s${eta})\n`);
}

function formatStats(s: DatasetStats): string {
  const width = Math.max(5, ...s.classes.map((c) => c.name.length));
  const row = (name: string, a: number | string, b: number | string, c: number | string, t: number | string) =>
    `${name.padEnd(width)}  ${String(a).padStart(7)}  ${String(b).padStart(7)}  ${String(c).padStart(7)}  ${String(t).padStart(7)}`;
  return [
    row('class', 'train', 'valid', 'test', 'total'),
    ...s.classes.map((c) => row(c.name, c.train, c.valid, c.test, c.total)),
    row('all', s.splits.train, s.splits.valid, s.splits.test, s.images),
    '',
    `${s.images} images, ${s.unreadable} unreadable, ${s.removed} removed, ${s.missing} missing; version ${s.version}`,
  ].join('\n');
}

process.exitCode = await main(process.argv.slice(2));
