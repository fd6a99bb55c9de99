/**
 * `loupe issues --kind residual|target [--split S] --json` on a real regression project
 * (tests/unit/analysis/valuesData.ts), the refusal of the other task's kinds on either kind of
 * project, paging past one request's 2000 rows, and the command table's --split.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { issuesForProject } from '../../../src/main/cli/issuesValues';
import { parseCommandLine } from '../../../src/main/cli/parse';
import type { ValueIssueRow } from '../../../src/shared/regression';
import type { ImageId } from '../../../src/shared/types';
import { tempDir } from '../../helpers/fixtures';
import { addSyntheticImages } from '../../helpers/synthetic';
import { writeValueProject } from '../analysis/valuesData';

let core: Core;
beforeEach(async () => {
  core = new Core();
  await core.call('project:open', { file: path.join(tempDir(), 'cli.loupe'), create: true });
});
afterEach(async () => {
  await core.shutdown();
});

interface Printed {
  runId: number | null;
  kind: string;
  total: number;
  typicalError: number | null;
  method: string;
  rows: Array<{ path: string; split: string; value: number; actual: number; predicted: number; residual: number; score: number; reason: string; neighbours: Array<{ path: string; value: number; similarity: number }> }>;
}

function printer() {
  const out: { json: Printed | null; text: string } = { json: null, text: '' };
  return { out, print: (json: unknown, text: string) => ((out.json = json as Printed), (out.text = text)) };
}

describe('loupe issues on a regression project', () => {
  it('--kind target --json lists the planted wrong values first, with values, residuals and neighbours', async () => {
    const db = core.requireProject().db;
    const p = writeValueProject(db);
    const pathOf = db.prepare('SELECT path FROM images WHERE id = ?').pluck();
    const { out, print } = printer();
    expect(await issuesForProject(core, { kind: 'target', json: true, limit: String(p.planted.length) }, print)).toBe(0);
    const printed = out.json!;
    expect(printed.runId).toBe(p.runId);
    expect(printed.kind).toBe('target');
    expect(new Set(printed.rows.map((r) => r.path))).toEqual(new Set(p.planted.map((id) => pathOf.get(id) as string)));
    expect(printed.method).toMatch(/most similar images/);
    expect(printed.typicalError).toBeGreaterThan(0);
    const first = printed.rows[0]!;
    expect(first.residual).toBeCloseTo(first.predicted - first.actual, 9);
    expect(first.neighbours.length).toBeGreaterThan(0);
    expect(typeof first.neighbours[0]!.value).toBe('number');
    expect(out.text).toMatch(/likely wrong values\); worst first:/);

    // --kind residual --split test: the test images only, largest error first.
    expect(await issuesForProject(core, { kind: 'residual', split: 'test', json: true, limit: '1000' }, print)).toBe(0);
    const test = out.json!;
    expect(test.total).toBe([...p.images.values()].filter((im) => im.split === 'test').length);
    expect(test.rows.every((r) => r.split === 'test')).toBe(true);
    const abs = test.rows.map((r) => Math.abs(r.residual));
    expect(abs).toEqual([...abs].sort((a, b) => b - a));
  });

  it('refuses a label-queue kind, naming residual and target', async () => {
    writeValueProject(core.requireProject().db);
    const { print } = printer();
    for (const kind of ['loss', 'label', 'confused']) {
      await expect(issuesForProject(core, { kind, json: true }, print)).rejects.toMatchObject({
        code: 'VALIDATION',
        message: expect.stringMatching(/regression project.*--kind residual.*--kind target/),
      });
    }
  });
});

describe('loupe issues on a classification project', () => {
  it('refuses residual and target, and --split with a label queue', async () => {
    addSyntheticImages(core.requireProject().db, [{ name: 'a', count: 3 }, { name: 'b', count: 3 }]);
    const { print } = printer();
    for (const kind of ['residual', 'target']) {
      await expect(issuesForProject(core, { kind, json: true }, print)).rejects.toMatchObject({ code: 'VALIDATION', message: expect.stringMatching(/not a regression project.*--kind loss, label or confused/) });
    }
    await expect(issuesForProject(core, { kind: 'loss', split: 'test', json: true }, print)).rejects.toMatchObject({ code: 'VALIDATION', message: expect.stringMatching(/--split goes with --kind residual or target/) });
    // The label queue itself still answers (no run yet).
    const { out, print: keep } = printer();
    expect(await issuesForProject(core, { kind: 'loss', json: true }, keep)).toBe(0);
    expect(out.json!.runId).toBeNull();
  });
});

describe('loupe issues value paging', () => {
  it('reads past 2000 rows in pages from --offset and stops at the end of the queue', async () => {
    const calls: Array<{ offset: number; limit: number }> = [];
    const total = 4500;
    const row = (i: number) => ({ imageId: i as ImageId, path: `img${i}.png`, split: 'train', value: 1, actual: 1, predicted: 2, residual: 1, score: 5000 - i, neighbourMedian: null, fold: 0, reviewed: false, reason: '' }) satisfies ValueIssueRow;
    const fake = {
      call: async (name: string, params: { offset: number; limit: number }) => {
        if (name === 'project:current') return { task: 'regression' };
        if (name !== 'review:values') throw new Error(name);
        expect(params.limit).toBeLessThanOrEqual(2000);
        calls.push({ offset: params.offset, limit: params.limit });
        const end = Math.min(total, params.offset + params.limit);
        return { runId: 1, total, rows: Array.from({ length: Math.max(0, end - params.offset) }, (_, k) => row(params.offset + k)), typicalError: 1, method: '' };
      },
    } as unknown as Core;
    const { out, print } = printer();
    await issuesForProject(fake, { kind: 'residual', limit: '3000', offset: '1000', json: true }, print);
    expect(out.json!.rows).toHaveLength(3000);
    expect(out.json!.rows[0]!.path).toBe('img1000.png');
    expect(calls).toEqual([{ offset: 1000, limit: 2000 }, { offset: 3000, limit: 1000 }]);
    calls.length = 0;
    await issuesForProject(fake, { kind: 'target', limit: '10000', json: true }, print);
    expect(out.json!.rows).toHaveLength(4500);
    expect(calls.map((c) => c.offset)).toEqual([0, 2000, 4000]);
    await expect(issuesForProject(fake, { kind: 'target', limit: '0', json: true }, print)).rejects.toMatchObject({ code: 'VALIDATION' });
  });
});

describe('loupe issues in the command table', () => {
  it('takes --kind residual|target and --split train|valid|test', () => {
    const parsed = parseCommandLine(['issues', '--project', 'p.loupe', '--kind', 'target', '--split', 'test', '--json']);
    expect(parsed).toMatchObject({ kind: 'run', options: { kind: 'target', split: 'test' } });
    expect(() => parseCommandLine(['issues', '--project', 'p.loupe', '--kind', 'residual', '--split', 'holdout'])).toThrow(/--split must be one of train, valid, test/);
    expect(() => parseCommandLine(['issues', '--project', 'p.loupe', '--kind', 'bogus'])).toThrow(/residual, target/);
  });
});
