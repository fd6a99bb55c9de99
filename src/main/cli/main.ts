/**
 * `loupe`: the command line over the same core the app uses. Every command takes --json; errors
 * print one line and exit non-zero. Paths in output are relative to the project root.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LoupeError, toErrorInfo } from '../../shared/errors';
import {
  importKinds,
  splitNames,
  type DatasetStats,
  type ImageId,
  type ImportKind,
  type JobInfo,
  type SplitName,
} from '../../shared/types';
import { Core } from '../core';
import { startServer } from '../server/server';
import { issuesCommand, trainCommand } from './train';
import { writePreviewFiles } from '../augment/previewFiles';
import { requireClass } from '../store/classes';
import { sql } from '../store/statements';

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const usage = `Usage: loupe <command> [options]

Commands:
  import <folder|csv> --project P [--kind folders|split-folders|csv-labels|csv-values]
  stats --project P
  relabel <path>... --to CLASS --project P [--create]
  remove <path>... --project P
  restore <path>... --project P
  undo --project P
  redo --project P
  export --format csv|folders --out DIR --project P [--hardlink]
  classes --project P
  rename <class> <new name> --project P
  merge <class> <into class> --project P [--dry-run]
  delete-class <class> --project P
  split --ratios 80,10,10 [--lock test] [--seed N] --project P [--dry-run]
  versions --project P
  diff <from version> <to version> --project P
  serve [--project P] [--port N]
  train --project P [--mode quick] [--backbone default|baseline|NAME|FILE] [--folds 5]
  issues --project P --kind loss|label|confused [--limit N]
  augment-preview --project P --image PATH --out DIR [--n 12] [--seed S] [--preset none|light|standard|strong]

Every command takes --json for machine-readable output. Paths are relative to the project root.`;

interface Options {
  project?: string;
  json: boolean;
  kind?: string;
  to?: string;
  create: boolean;
  format?: string;
  out?: string;
  hardlink: boolean;
  port?: string;
  ratios?: string;
  lock?: string[];
  seed?: string;
  'dry-run': boolean;
  image?: string;
  n?: string;
  preset?: string;
  mode?: string;
  backbone?: string;
  folds?: string;
  limit?: string;
  help: boolean;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      project: { type: 'string', short: 'p' },
      json: { type: 'boolean', default: false },
      kind: { type: 'string' },
      to: { type: 'string' },
      create: { type: 'boolean', default: false },
      format: { type: 'string' },
      out: { type: 'string' },
      hardlink: { type: 'boolean', default: false },
      port: { type: 'string' },
      ratios: { type: 'string' },
      lock: { type: 'string', multiple: true },
      seed: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      image: { type: 'string' },
      n: { type: 'string' },
      preset: { type: 'string' },
      mode: { type: 'string' },
      backbone: { type: 'string' },
      folds: { type: 'string' },
      limit: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const options = values as Options;
  const [command, ...args] = positionals;
  if (options.help || !command) {
    console.log(usage);
    return options.help ? 0 : 2;
  }
  const core = new Core();
  const print = (json: unknown, text: string) => console.log(options.json ? JSON.stringify(json) : text);
  try {
    switch (command) {
      case 'import': {
        const source = args[0];
        if (!source) throw new LoupeError('VALIDATION', 'import needs a folder or CSV: loupe import <folder|csv> --project P');
        if (options.kind && !(importKinds as readonly string[]).includes(options.kind)) {
          throw new LoupeError('VALIDATION', `--kind must be one of ${importKinds.join(', ')}`);
        }
        await core.call('project:open', { file: requireProjectPath(options), create: true });
        const { jobId } = await core.call('dataset:import', { source, kind: options.kind as ImportKind | undefined });
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
        await openExisting(core, options);
        const stats = await core.call('dataset:stats', {});
        print(stats, formatStats(stats));
        return 0;
      }
      case 'relabel': {
        await openExisting(core, options);
        if (!options.to) throw new LoupeError('VALIDATION', 'relabel needs --to CLASS');
        if (!options.create) requireClass(core.requireProject().db, options.to);
        const result = await core.call('images:relabel', { ids: idsOf(core, args), className: options.to });
        print(result, `${result.description} (version ${result.version})`);
        return 0;
      }
      case 'remove':
      case 'restore': {
        await openExisting(core, options);
        const result = await core.call(command === 'remove' ? 'images:remove' : 'images:restore', { ids: idsOf(core, args) });
        print(result, `${result.description} (version ${result.version})`);
        return 0;
      }
      case 'undo':
      case 'redo': {
        await openExisting(core, options);
        const result = await core.call(command === 'undo' ? 'changes:undo' : 'changes:redo', {});
        print(result, `${result.description} (version ${result.version})`);
        return 0;
      }
      case 'export': {
        await openExisting(core, options);
        if (options.format !== 'csv' && options.format !== 'folders') {
          throw new LoupeError('VALIDATION', 'export needs --format csv or --format folders');
        }
        if (!options.out) throw new LoupeError('VALIDATION', 'export needs --out DIR');
        const result = await core.call('dataset:export', {
          format: options.format,
          out: options.out,
          link: options.hardlink ? 'hardlink' : 'copy',
        });
        print(result, `Exported ${result.files} file(s) to ${result.out} (version ${result.version})`);
        return 0;
      }
      case 'classes': {
        await openExisting(core, options);
        const classes = await core.call('classes:list', {});
        print(
          { classes },
          classes.map((c) => `${c.name}: ${c.total} (${c.train}/${c.valid}/${c.test}), ${c.removed} removed`).join('\n'),
        );
        return 0;
      }
      case 'rename':
      case 'merge': {
        await openExisting(core, options);
        const [from, to] = args;
        if (!from || !to) throw new LoupeError('VALIDATION', `${command} needs two class names: loupe ${command} A B`);
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
        await openExisting(core, options);
        if (!args[0]) throw new LoupeError('VALIDATION', 'delete-class needs a class name');
        const result = await core.call('classes:delete', { name: args[0] });
        print(result, `${result.description} (version ${result.version})`);
        return 0;
      }
      case 'split': {
        await openExisting(core, options);
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
        await openExisting(core, options);
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
        await openExisting(core, options);
        const [from, to] = args.map(Number);
        if (!Number.isInteger(from) || !Number.isInteger(to)) throw new LoupeError('VALIDATION', 'diff needs two version numbers');
        const diff = await core.call('versions:diff', { from: from!, to: to!, limit: 10_000 });
        print(
          diff,
          diff.rows.map((r) => `${r.path ?? `class ${r.className}`}  ${r.field}: ${r.from ?? '-'} -> ${r.to ?? '-'}`).join('\n') +
            `\n${diff.total} change(s) between v${diff.from} and v${diff.to}`,
        );
        return 0;
      }
      case 'augment-preview': {
        await openExisting(core, options);
        if (!options.image) throw new LoupeError('VALIDATION', 'augment-preview needs --image PATH (relative to the project root)');
        if (!options.out) throw new LoupeError('VALIDATION', 'augment-preview needs --out DIR');
        const n = Number(options.n ?? 12);
        const seed = Number(options.seed ?? 0);
        if (!Number.isInteger(n) || n < 1 || n > 64) throw new LoupeError('VALIDATION', '--n must be a whole number between 1 and 64');
        if (!Number.isInteger(seed) || seed < 0) throw new LoupeError('VALIDATION', '--seed must be a whole number of at least 0');
        const result = await writePreviewFiles(core, { image: options.image, n, seed, preset: options.preset ?? 'standard', out: options.out });
        print(
          result,
          `Wrote ${result.files.length} augmentations of ${result.image} (${result.preset}, ${result.width}x${result.height}, seed ${seed}) to ${result.out}` +
            result.errors.map((e) => `\n  failed: ${e}`).join(''),
        );
        return 0;
      }
      case 'serve': {
        if (options.project) await core.call('project:open', { file: options.project, create: true });
        const uiDir = path.join(packageRoot, 'out', 'renderer');
        if (!fs.existsSync(path.join(uiDir, 'index.html'))) {
          throw new LoupeError('NOT_FOUND', `The UI is not built (${uiDir}). Run \`npm run build\` or \`npm run serve\`.`);
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
        return await issuesCommand(core, options, print);
      default:
        throw new LoupeError('VALIDATION', `Unknown command "${command}". Run loupe --help.`);
    }
  } catch (error) {
    const info = toErrorInfo(error);
    if (options.json) console.log(JSON.stringify({ error: info }));
    console.error(`loupe: ${info.message}`);
    return info.code === 'VALIDATION' ? 2 : 1;
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

function requireProjectPath(options: Options): string {
  if (!options.project) throw new LoupeError('VALIDATION', 'This command needs --project P (a .loupe file).');
  return options.project;
}

async function openExisting(core: Core, options: Options): Promise<void> {
  await core.call('project:open', { file: requireProjectPath(options) });
}

function idsOf(core: Core, paths: string[]): ImageId[] {
  if (paths.length === 0) throw new LoupeError('VALIDATION', 'Name at least one image path (relative to the project root).');
  const lookup = sql(core.requireProject().db, 'SELECT id FROM images WHERE path = ?');
  return paths.map((p) => {
    const row = lookup.get(p.split(path.sep).join('/')) as { id: ImageId } | undefined;
    if (!row) throw new LoupeError('NOT_FOUND', `No image at ${p} in this project.`);
    return row.id;
  });
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
