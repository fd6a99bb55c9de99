/**
 * `loupe bin` and `loupe unbin` (src/main/cli/values.ts) over a Core on a real project file: a dry
 * run changes nothing, --quantiles 4 --json prints the classes and the change, --edges and
 * --prefix name the classes, unbin and undo; and the command table's checks of their options.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { binCommand, binMethodOf, unbinCommand } from '../../../src/main/cli/values';
import { commandHelp, commands } from '../../../src/main/cli/commands';
import { parseCommandLine } from '../../../src/main/cli/parse';
import { LoupeError } from '../../../src/shared/errors';
import type { BinPlan } from '../../../src/shared/regression';
import type { ChangeResult } from '../../../src/shared/types';
import { tempDir } from '../../helpers/fixtures';
import { addValueImages, distinctValues, labelsOf } from '../dataset/binningData';

let core: Core;
beforeEach(async () => {
  core = new Core();
  await core.call('project:open', { file: path.join(tempDir(), 'cli.loupe'), create: true });
});
afterEach(async () => {
  await core.shutdown();
});

interface Printed {
  dryRun: boolean;
  plan: BinPlan;
  result?: ChangeResult;
}

function printer() {
  const out: { json: unknown; text: string } = { json: null, text: '' };
  return { out, print: (json: unknown, text: string) => ((out.json = JSON.parse(JSON.stringify(json))), (out.text = text)) };
}

const task = async () => (await core.call('project:current', {}))!.task;

function thrown(run: () => unknown): LoupeError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(LoupeError);
    return error as LoupeError;
  }
  throw new Error('expected an error');
}

describe('loupe bin', () => {
  it('--dry-run prints the plan and changes nothing; --quantiles 4 --json prints the classes and the change', async () => {
    const db = core.requireProject().db;
    addValueImages(db, distinctValues(40));
    const version = (await core.call('project:current', {}))!.version;
    const { out, print } = printer();

    expect(await binCommand(core, { quantiles: '4', 'dry-run': true, json: true }, print)).toBe(0);
    const dry = out.json as Printed;
    expect(dry.dryRun).toBe(true);
    expect(dry.result).toBeUndefined();
    expect(dry.plan.bins.map((b) => b.total)).toEqual([10, 10, 10, 10]);
    expect(out.text).toMatch(/Dry run: nothing changed\.$/);
    expect((await core.call('project:current', {}))!.version).toBe(version);
    expect(await task()).toBe('regression');
    expect([...labelsOf(db).values()].every((l) => l.className === null)).toBe(true);

    expect(await binCommand(core, { quantiles: '4', json: true }, print)).toBe(0);
    const applied = out.json as Printed;
    expect(applied.dryRun).toBe(false);
    expect(applied.plan.bins.map((b) => b.name)).toEqual(['value 0–10', 'value 10–20', 'value 20–30', 'value 30–39']);
    expect(applied.result).toMatchObject({ changed: 40 });
    expect(applied.result!.version).toBeGreaterThan(version);
    expect(await task()).toBe('classification');
    expect((await core.call('classes:list', {})).map((c) => [c.name, c.total])).toEqual(applied.plan.bins.map((b) => [b.name, 10]));
    expect(out.text).toContain('value 0–10');

    expect(await unbinCommand(core, print)).toBe(0);
    expect((out.json as ChangeResult).changed).toBe(40);
    expect(await task()).toBe('regression');
    await core.call('changes:undo', {});
    expect(await task()).toBe('classification');
  });

  it('--edges with --prefix names the classes by the typed edges; the text lists the counts per split', async () => {
    addValueImages(core.requireProject().db, distinctValues(60));
    const { out, print } = printer();
    await binCommand(core, { edges: '12,35', prefix: 'pm25', 'dry-run': true }, print);
    const plan = (out.json as Printed).plan;
    expect(plan.bins.map((b) => b.name)).toEqual(['pm25 < 12', 'pm25 12–35', 'pm25 ≥ 35']);
    expect(out.text.split('\n')[0]).toMatch(/^class\s+train\s+valid\s+test\s+none\s+total$/);
    expect(out.text).toMatch(/pm25 < 12\s+\d+\s+\d+\s+\d+\s+0\s+12\n/);
  });

  it('needs exactly one binning method, bin counts from 2 to 50 and ascending numeric edges', () => {
    expect(thrown(() => binMethodOf({})).message).toMatch(/exactly one of --quantiles K .*--width K .*--edges/);
    expect(thrown(() => binMethodOf({ quantiles: '3', edges: '1,2' })).message).toMatch(/not --quantiles and --edges/);
    expect(thrown(() => binMethodOf({ quantiles: '1' })).message).toMatch(/--quantiles must be a whole number of bins from 2 to 50/);
    expect(thrown(() => binMethodOf({ width: '2.5' })).code).toBe('VALIDATION');
    expect(thrown(() => binMethodOf({ edges: '0,,3' })).message).toMatch(/numbers separated by commas/);
    expect(thrown(() => binMethodOf({ edges: '5,3' })).message).toMatch(/strictly ascending/);
    expect(binMethodOf({ edges: ' 0, 12.5 ,35' })).toEqual({ method: 'edges', edges: [0, 12.5, 35] });
    expect(binMethodOf({ width: '7' })).toEqual({ method: 'width', k: 7 });
  });

  it('says what to do on a project without values', async () => {
    const { print } = printer();
    const error = await binCommand(core, { quantiles: '3' }, print).catch((e: unknown) => e);
    expect((error as LoupeError).code).toBe('CONFLICT');
    expect((error as LoupeError).message).toMatch(/path,value CSV/);
  });

  it('are in the command table: bin and unbin take their own options and no others', () => {
    const parsed = parseCommandLine(['bin', '--project', 'p.loupe', '--quantiles', '4', '--prefix', 'pm25', '--dry-run', '--json']);
    expect(parsed).toMatchObject({ kind: 'run', options: { quantiles: '4', prefix: 'pm25', 'dry-run': true, json: true } });
    expect(parseCommandLine(['unbin', '--project', 'p.loupe']).kind).toBe('run');
    expect(thrown(() => parseCommandLine(['unbin', '--project', 'p.loupe', '--quantiles', '3'])).message).toMatch(/unbin does not take --quantiles/);
    expect(thrown(() => parseCommandLine(['bin', '--project', 'p.loupe', '--edges'])).message).toMatch(/--edges needs a value: --edges A,B,…/);
    expect(thrown(() => parseCommandLine(['stats', '--project', 'p.loupe', '--prefix', 'x'])).message).toMatch(/stats does not take --prefix/);
    const help = commandHelp(commands.get('bin')!);
    for (const option of ['--quantiles K', '--width K', '--edges A,B,…', '--prefix NAME', '--dry-run']) expect(help).toContain(option);
  });
});
