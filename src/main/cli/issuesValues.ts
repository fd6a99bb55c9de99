/**
 * `loupe issues` on both kinds of project: the label queues (--kind loss|label|confused, train.ts
 * issuesCommand) on a classification project, the value queues (--kind residual|target) on a
 * regression project. A kind of the other task's queues is refused, naming the ones that fit.
 */
import { LoupeError } from '../../shared/errors';
import { assertNever } from '../../shared/assertNever';
import { valueIssueKinds, type ValueIssueKind, type ValueIssuePage, type ValueIssueRow } from '../../shared/regression';
import type { SplitName } from '../../shared/types';
import type { Core } from '../core';
import type { Options } from './commands';
import { issuesCommand, type TrainCliOptions } from './train';

/** Options `loupe issues` reads. */
export type IssuesCliOptions = TrainCliOptions & Pick<Options, 'split'>;

type Print = (json: unknown, text: string) => void;

/** The most rows one review:values call returns. */
const reviewPageSize = 2000;

const isValueKind = (kind: string | undefined): kind is ValueIssueKind => (valueIssueKinds as readonly string[]).includes(kind ?? '');

/**
 * `loupe issues --project P --kind loss|label|confused|residual|target [...]`: the value queues on a
 * regression project, the label queues on a classification one; VALIDATION when --kind belongs to
 * the other task (or --split is given to a label queue, which does not take it).
 */
export async function issuesForProject(core: Core, options: IssuesCliOptions, print: Print): Promise<number> {
  const task = (await core.call('project:current', {}))?.task ?? null;
  const valueKind = isValueKind(options.kind);
  if (task === 'regression' && !valueKind) {
    throw new LoupeError(
      'VALIDATION',
      `--kind ${options.kind}: this is a regression project (its images have numeric values, not classes); use --kind residual (the largest out-of-sample errors) or --kind target (likely wrong values).`,
      { option: 'kind', choices: valueIssueKinds },
    );
  }
  if (task === 'classification' && valueKind) {
    throw new LoupeError(
      'VALIDATION',
      `--kind ${options.kind}: this project is not a regression project (its images have classes); use --kind loss, label or confused.`,
      { option: 'kind' },
    );
  }
  if (valueKind) return valueIssuesCommand(core, options, print);
  if (options.split !== undefined) throw new LoupeError('VALIDATION', '--split goes with --kind residual or target (the value queues).', { option: 'split' });
  return issuesCommand(core, options, print);
}

/**
 * `loupe issues --project P --kind residual|target [--split S] [--limit N] [--offset K] --json`: the
 * regression queue of the latest finished regression run (or the one chosen in Review), worst first.
 */
export async function valueIssuesCommand(core: Core, options: IssuesCliOptions, print: Print): Promise<number> {
  // One of valueIssueKinds (issuesForProject checked) and split one of splitNames (the table checked).
  const kind = options.kind as ValueIssueKind;
  const split = options.split as SplitName | undefined;
  const limit = options.limit ? integer(options.limit, '--limit') : 20;
  const offset = options.offset ? integer(options.offset, '--offset', 0) : 0;
  const rows: ValueIssueRow[] = [];
  let page: ValueIssuePage | null = null;
  for (;;) {
    const want = Math.min(reviewPageSize, limit - rows.length);
    const next = await core.call('review:values', { kind, split, offset: offset + rows.length, limit: want });
    rows.push(...next.rows);
    page = { ...next, rows };
    if (next.rows.length < want || rows.length >= limit) break;
  }
  const out = rows.map((r) => ({
    path: r.path,
    split: r.split,
    value: r.value,
    actual: r.actual,
    predicted: r.predicted,
    residual: r.residual,
    score: r.score,
    neighbourMedian: r.neighbourMedian,
    reviewed: r.reviewed,
    reason: r.reason,
    neighbours: (r.neighbours ?? []).map((n) => ({ path: n.path, value: n.given === null ? null : Number(n.given), similarity: n.similarity })),
  }));
  print(
    { runId: page.runId, kind, total: page.total, typicalError: page.typicalError, method: page.method, source: page.source ?? null, rows: out },
    page.runId === null ? 'No finished regression run: run `loupe train` first.' : [`${page.total} images (run ${page.runId}, ${heading(kind)}); worst first:`, ...out.map((r) => `${r.path}  ${r.reason}`)].join('\n'),
  );
  return 0;
}

function heading(kind: ValueIssueKind): string {
  switch (kind) {
    case 'residual':
      return 'largest out-of-sample errors';
    case 'target':
      return 'likely wrong values';
    default:
      return assertNever(kind, 'kind');
  }
}

function integer(text: string, what: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new LoupeError('VALIDATION', `${what} must be ${min === 0 ? 'a whole number, 0 or more' : 'a positive integer'}.`);
  return n;
}
