import { describe, expect, it } from 'vitest';
import { issuesCommand } from '../../../src/main/cli/train';
import { commands } from '../../../src/main/cli/commands';
import type { Core } from '../../../src/main/core';
import type { IssueRow } from '../../../src/shared/train';

// A queue of 4500 rows behind a fake core that, like review:queue, returns at most 2000 a call.
function fakeCore(total: number) {
  const calls: Array<{ offset: number; limit: number }> = [];
  const row = (i: number): IssueRow => ({ imageId: i as IssueRow['imageId'], path: `img${i}.png`, split: 'train', given: 'a', predicted: 'b', probability: 0.9, givenProbability: 0.1, loss: 5000 - i, fold: 0, reason: '' });
  const core = {
    call: async (name: string, params: { offset: number; limit: number }) => {
      if (name !== 'review:queue') throw new Error(name);
      expect(params.limit).toBeLessThanOrEqual(2000);
      calls.push({ offset: params.offset, limit: params.limit });
      const end = Math.min(total, params.offset + params.limit);
      return { runId: 1, total, rows: Array.from({ length: Math.max(0, end - params.offset) }, (_, k) => row(params.offset + k)), estimate: null };
    },
  } as unknown as Core;
  return { core, calls };
}

describe('loupe issues paging', () => {
  it('reads past 2000 rows in pages, starts at --offset, and stops at the end of the queue', async () => {
    const { core, calls } = fakeCore(4500);
    let printed: { rows: Array<{ path: string }> } | null = null;
    const print = (json: unknown) => void (printed = json as typeof printed);
    expect(await issuesCommand(core, { kind: 'loss', limit: '3000', offset: '1000', json: true }, print)).toBe(0);
    expect(printed!.rows).toHaveLength(3000);
    expect(printed!.rows[0]!.path).toBe('img1000.png');
    expect(calls).toEqual([{ offset: 1000, limit: 2000 }, { offset: 3000, limit: 1000 }]);

    calls.length = 0;
    await issuesCommand(core, { kind: 'loss', limit: '10000', json: true }, print);
    expect(printed!.rows).toHaveLength(4500);
    expect(calls.map((c) => c.offset)).toEqual([0, 2000, 4000]);
    await expect(issuesCommand(core, { kind: 'loss', offset: '-1', json: true }, print)).rejects.toMatchObject({ code: 'VALIDATION' });
  });

  it('says in --help that --limit has no cap and --offset pages', () => {
    const issues = commands.get('issues')!;
    expect(issues.options.limit!.help).toMatch(/no upper cap/);
    expect(issues.options.offset!.help).toMatch(/page the queue/);
  });
});
