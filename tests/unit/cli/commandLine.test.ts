// The command line itself, through bin/loupe.mjs in child processes: help, option checks, dash
// paths and missing projects each end in one `loupe:` line and a non-zero exit.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands, type CommandSpec } from '../../../src/main/cli/commands';
import { writeClassFolders, writeImage } from '../../helpers/fixtures';
import { expectOneErrorLine, loupe, type Run } from './run';

/** Runs every argument list, a few at a time (two cores here). */
async function runAll(argLists: string[][], width = 4): Promise<Run[]> {
  const results: Run[] = [];
  for (let i = 0; i < argLists.length; i += width) {
    results.push(...(await Promise.all(argLists.slice(i, i + width).map((args) => loupe(args)))));
  }
  return results;
}

/** The least a command needs to get past the command line: its positionals and required options. */
function minimalArgs(spec: CommandSpec, project: string): string[] {
  const args: string[] = [spec.name];
  for (let i = 0; i < Math.max(spec.positionals[0], spec.takesPaths ? 1 : 0); i++) args.push(String(i + 1));
  for (const [name, doc] of Object.entries(spec.options)) {
    if (name === 'project') args.push('--project', project);
    else if (doc.required) args.push(`--${name}`, doc.choices?.[0] ?? 'x');
  }
  return args;
}

let dir: string;
let project: string;

describe('the loupe command line', () => {
  beforeAll(async () => {
    // Shared by the tests below, so made here and removed in afterAll (tempDir() cleans after each test).
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-cli-line-'));
    const data = path.join(dir, 'data');
    await writeClassFolders(data, ['cat', 'dog'], 2);
    // An image whose path starts with '-', directly in the project root.
    await writeImage(path.join(data, '-a.png'), 99);
    project = path.join(dir, 'p.loupe');
    const imported = await loupe(['import', data, '--project', project, '--json']);
    expect(imported.code, imported.stderr).toBe(0);
  });

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("prints each command's own usage and options for <command> --help", async () => {
    expect([...commands.keys()]).toEqual([
      'import', 'stats', 'relabel', 'remove', 'restore', 'undo', 'redo', 'export', 'classes', 'rename',
      'merge', 'delete-class', 'split', 'versions', 'diff', 'serve', 'train', 'lr-find', 'sanity', 'issues', 'predict',
      'health', 'fix-leakage', 'goal', 'diagnose', 'search', 'ensemble', 'report', 'augment-preview', 'bin', 'unbin',
    ]);
    const specs = [...commands.values()];
    const runs = await runAll([['--help'], ...specs.map((s) => [s.name, '--help'])]);
    const [global, ...helps] = runs;
    expect(global!.code).toBe(0);
    for (const spec of specs) expect(global!.stdout).toContain(`\n  ${spec.name}`);
    specs.forEach((spec, i) => {
      const run = helps[i]!;
      expect(run.code, spec.name).toBe(0);
      expect(run.stderr, spec.name).toBe('');
      expect(run.stdout.split('\n')[0], spec.name).toMatch(new RegExp(`^Usage: loupe ${spec.name}( |$)`));
      for (const option of Object.keys(spec.options)) expect(run.stdout, `${spec.name} --${option}`).toContain(`--${option}`);
      expect(run.stdout.includes('--from-file'), spec.name).toBe(spec.takesPaths === true);
    });
    // Only one command's options: import's help does not offer relabel's --to.
    expect(helps[0]!.stdout).not.toContain('--to');
  });

  it('refuses unknown options, options a command does not take, and malformed values in one line', async () => {
    const [unknown, notTaken, noValue, forgotten, valued, extra, noCommand, badCommand, jsonError] = await runAll([
      ['stats', '--foo', '--project', project],
      ['stats', '--to', 'dog', '--project', project],
      ['relabel', 'cat/cat_0.png', '--project', project, '--to'],
      ['relabel', 'cat/cat_0.png', '--to', '--create', '--project', project],
      ['stats', '--json=1', '--project', project],
      ['stats', 'extra', '--project', project],
      ['--project', project],
      ['frobnicate', '--project', project],
      ['stats', '--bogus', '--project', project, '--json'],
    ]);
    expectOneErrorLine(unknown!, /unknown option --foo .*loupe stats --help/, 2);
    expectOneErrorLine(notTaken!, /stats does not take --to/, 2);
    expectOneErrorLine(noValue!, /--to needs a value: --to CLASS/, 2);
    expectOneErrorLine(forgotten!, /--to needs a value.*--to=--create/, 2);
    expectOneErrorLine(valued!, /--json takes no value/, 2);
    expectOneErrorLine(extra!, /stats takes no arguments, not "extra"/, 2);
    expectOneErrorLine(noCommand!, /Name a command.*loupe --help/, 2);
    expectOneErrorLine(badCommand!, /Unknown command "frobnicate"/, 2);
    expect(JSON.parse(jsonError!.stdout)).toMatchObject({ error: { code: 'VALIDATION' } });
    // Nothing above changed the project.
    const stats = JSON.parse((await loupe(['stats', '--project', project, '--json'])).stdout) as { version: number; removed: number };
    expect(stats.removed).toBe(0);
  });

  it("takes a path that starts with '-' after --, and says so when it comes before", async () => {
    const before = await loupe(['remove', '-a.png', '--project', project]);
    expectOneErrorLine(before, /unknown option -a\.png; paths that start with '-' go after --: loupe remove -- -a\.png/, 2);
    const removed = await loupe(['remove', '--project', project, '--json', '--', '-a.png']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(JSON.parse(removed.stdout)).toMatchObject({ changed: 1, description: 'Removed 1 image' });
    const restored = await loupe(['restore', '--project', project, '--json', '--', '-a.png']);
    expect(JSON.parse(restored.stdout)).toMatchObject({ changed: 1 });
  });

  it('says how to create a missing project, for every command that needs one, and creates nothing', async () => {
    const missing = path.join(dir, 'nowhere', 'missing.loupe');
    const needing = [...commands.values()].filter((spec) => spec.project === 'existing');
    expect(needing.length).toBeGreaterThan(10);
    const runs = await runAll(needing.map((spec) => minimalArgs(spec, missing)));
    needing.forEach((spec, i) => {
      expectOneErrorLine(runs[i]!, /No project at .*missing\.loupe\. Create it with: loupe import FOLDER --project .*missing\.loupe$/);
      expect(runs[i]!.code, spec.name).toBe(1);
    });
    expect(fs.existsSync(path.dirname(missing))).toBe(false);
  });

  it('asks for --kind on issues, listing the kinds, instead of picking one silently', async () => {
    const run = await loupe(['issues', '--project', project]);
    expectOneErrorLine(run, /issues needs --kind KIND: .*--kind loss\|label\|confused/, 2);
    const wrong = await loupe(['issues', '--kind', 'cell', '--project', project]);
    expectOneErrorLine(wrong, /--kind must be one of loss, label, confused, residual, target \(got "cell"\)/, 2);
  });
});
