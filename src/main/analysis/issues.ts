/**
 * Review queues from a run's out-of-sample predictions (in-sample ones, a full run's train images,
 * never enter them): worst losses, likely label errors
 * (confident learning), a most-confused pair, one confusion cell. Queues reflect the dataset now:
 * images removed, reviewed or already relabelled since the run leave them at once.
 */
import { LoupeError } from '../../shared/errors';
import type { ConfusedPair, IssueKind, IssuePage, IssueRow, RunComparison, RunSummary } from '../../shared/train';
import type { ImageId, SplitName } from '../../shared/types';
import type { Db } from '../store/db';
import { sql } from '../store/statements';
import { getRun, latestDoneRun } from '../train/runs';
import { findLabelIssues, type ConfidentLearningResult } from './confident';
import { assertNever } from '../../shared/assertNever';

interface PredictionRow {
  imageId: ImageId;
  split: SplitName | null;
  fold: number;
  given: number | null;
  predicted: number;
  probability: number;
  givenProb: number | null;
  loss: number | null;
  probabilities: Buffer;
}

interface Analysed {
  run: RunSummary;
  rows: PredictionRow[];
  probabilities: Float32Array[];
  confident: ConfidentLearningResult;
  /** Row index → its label issue (suggested class, score). */
  labelIssues: Map<number, { suggested: number; score: number; rank: number }>;
  /** Each queue's order, computed once per run: predictions never change. */
  orders: Map<string, Picked[]>;
}

type Picked = { i: number; predicted: number; reason: string };

// Predictions never change once a run is done, so the analysis is computed once per run.
const analysed = new WeakMap<Db, Map<number, Analysed>>();

function analyse(db: Db, runId: number | undefined): Analysed | null {
  const run = runId === undefined ? latestDoneRun(db) : getRun(db, runId);
  if (!run) return null;
  if (run.status !== 'done') throw new LoupeError('CONFLICT', `Run ${run.id} is ${run.status}; queues come from finished runs.`);
  let cache = analysed.get(db);
  if (!cache) analysed.set(db, (cache = new Map()));
  const hit = cache.get(run.id);
  if (hit) return hit;
  const rows = sql(
    db,
    `SELECT image_id AS imageId, split, fold, given, predicted, probability, given_prob AS givenProb, loss, probabilities
       FROM predictions WHERE run_id = ? AND in_sample = 0`,
  ).all(run.id) as PredictionRow[];
  const probabilities = rows.map((r) => new Float32Array(r.probabilities.buffer.slice(r.probabilities.byteOffset, r.probabilities.byteOffset + r.probabilities.byteLength)));
  const labelled = rows.map((r, i) => ({ r, i })).filter(({ r }) => r.given !== null);
  const confident = findLabelIssues(
    labelled.map(({ r }) => r.given!),
    labelled.map(({ i }) => probabilities[i]!),
    run.classes.length,
  );
  const labelIssues = new Map<number, { suggested: number; score: number; rank: number }>();
  confident.issues.forEach((issue, rank) => labelIssues.set(labelled[issue.index]!.i, { suggested: issue.suggested, score: issue.score, rank }));
  const result = { run, rows, probabilities, confident, labelIssues, orders: new Map<string, Picked[]>() };
  cache.set(run.id, result);
  return result;
}

/**
 * Images that have left the run's queues: relabelled or no longer active since the run (found
 * through the change log after the run's version, so the cost follows the edits, not the dataset),
 * and, unless asked for, those marked reviewed. A class rename relabels nothing and drops nothing.
 */
function departed(db: Db, a: Analysed, includeReviewed: boolean): Set<number> {
  const out = new Set<number>();
  const changed = sql(
    db,
    `SELECT DISTINCT c.image_id AS id, i.status, l.class_id AS classId FROM changes c
       JOIN images i ON i.id = c.image_id LEFT JOIN labels l ON l.image_id = i.id
      WHERE c.id > ? AND c.field IN ('status', 'class')`,
  ).all(a.run.datasetVersion) as Array<{ id: number; status: string; classId: number | null }>;
  if (changed.length > 0) {
    // The class an image had at the run is the old value of its first class change after the run.
    const classAtRun = new Map(
      (
        sql(
          db,
          `SELECT image_id AS id, old_value AS old FROM changes
            WHERE id IN (SELECT min(id) FROM changes WHERE id > ? AND field = 'class' GROUP BY image_id)`,
        ).all(a.run.datasetVersion) as Array<{ id: number; old: string | null }>
      ).map((r) => [r.id, r.old === null ? null : Number(r.old)]),
    );
    for (const c of changed) {
      const atRun = classAtRun.has(c.id) ? classAtRun.get(c.id) : c.classId;
      if (c.status !== 'active' || atRun !== c.classId) out.add(c.id);
    }
  }
  if (!includeReviewed) {
    for (const { id } of sql(db, "SELECT id FROM images WHERE status = 'active' AND reviewed = 1").all() as { id: number }[]) out.add(id);
  }
  return out;
}

/** One page of a review queue. */
export function issueQueue(
  db: Db,
  params: { runId?: number; kind: IssueKind; given?: string; predicted?: string; includeReviewed: boolean; offset: number; limit: number },
): IssuePage {
  const a = analyse(db, params.runId);
  if (!a) return { runId: null, total: 0, rows: [], estimate: null };
  const { run, rows, probabilities } = a;
  const classes = run.classes;
  const indexOf = (name: string | undefined, what: string) => {
    const i = name === undefined ? -1 : classes.indexOf(name);
    if (i < 0) throw new LoupeError('VALIDATION', `${what} must be one of the run's classes: ${classes.join(', ')}.`);
    return i;
  };
  const gone = departed(db, a, params.includeReviewed);
  const isLive = (r: PredictionRow) => r.given !== null && !gone.has(r.imageId);
  const key = `${params.kind}:${params.given ?? ''}:${params.predicted ?? ''}`;
  let picked = a.orders.get(key);
  if (!picked) {
    picked = order(a, params.kind, indexOf, params.given, params.predicted);
    a.orders.set(key, picked);
  }
  const live = picked.filter(({ i }) => isLive(rows[i]!));
  const pathOf = sql(db, 'SELECT path FROM images WHERE id = ?');
  const page = live.slice(params.offset, params.offset + params.limit).map(({ i, predicted, reason }): IssueRow => {
    const r = rows[i]!;
    const p = probabilities[i]!;
    return {
      imageId: r.imageId,
      path: (pathOf.get(r.imageId) as { path: string }).path,
      split: r.split,
      given: classes[r.given!]!,
      predicted: classes[predicted]!,
      probability: p[predicted]!,
      givenProbability: r.givenProb ?? 0,
      loss: r.loss ?? 0,
      fold: r.fold,
      reason,
    };
  });
  const labelled = rows.filter((r) => r.given !== null).length;
  const estimate = params.kind === 'label' ? { noiseRate: a.confident.noiseRate, labels: Math.round(a.confident.noiseRate * labelled) } : null;
  return { runId: run.id, total: live.length, rows: page, estimate };
}

/** A queue's rows in order, worst first. */
function order(
  a: Analysed,
  kind: IssueKind,
  indexOf: (name: string | undefined, what: string) => number,
  givenName: string | undefined,
  predictedName: string | undefined,
): Picked[] {
  const { rows, probabilities } = a;
  const classes = a.run.classes;
  let picked: Picked[];
  switch (kind) {
    case 'loss':
      picked = rows
        .map((r, i) => ({ r, i }))
        .filter(({ r }) => r.loss !== null)
        .sort((x, y) => y.r.loss! - x.r.loss!)
        .map(({ r, i }) => ({ i, predicted: r.predicted, reason: `Loss ${r.loss!.toFixed(2)}: p(${classes[r.given!]}) = ${r.givenProb!.toFixed(2)}` }));
      break;
    case 'label':
      picked = [...a.labelIssues.entries()]
        .sort((x, y) => x[1].rank - y[1].rank)
        .map(([i, issue]) => {
          const p = probabilities[i]!;
          const given = rows[i]!.given!;
          return {
            i,
            predicted: issue.suggested,
            reason: `Likely mislabelled: p(${classes[issue.suggested]}) = ${p[issue.suggested]!.toFixed(2)} ≥ its threshold ${a.confident.thresholds[issue.suggested]!.toFixed(2)}, p(${classes[given]}) = ${p[given]!.toFixed(2)}`,
          };
        });
      break;
    case 'confused':
    case 'cell': {
      const g = indexOf(givenName, 'given');
      const p = indexOf(predictedName, 'predicted');
      const both = kind === 'confused';
      picked = rows
        .map((r, i) => ({ r, i }))
        .filter(({ r }) => (r.given === g && r.predicted === p) || (both && r.given === p && r.predicted === g))
        .sort((x, y) => (y.r.loss ?? 0) - (x.r.loss ?? 0))
        .map(({ r, i }) => ({ i, predicted: r.predicted, reason: `Given ${classes[r.given!]}, predicted ${classes[r.predicted]}` }));
      break;
    }
    default:
      return assertNever(kind, 'queue');
  }
  return picked;
}

/** The most-confused class pairs of a run, counted both ways (labelled images, out-of-sample). */
export function confusedPairs(db: Db, params: { runId?: number; limit: number }): ConfusedPair[] {
  const a = analyse(db, params.runId);
  if (!a) return [];
  const k = a.run.classes.length;
  const counts = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (const r of a.rows) if (r.given !== null && r.given !== r.predicted) counts[r.given]![r.predicted]!++;
  const pairs: ConfusedPair[] = [];
  for (let i = 0; i < k; i++) {
    for (let j = i + 1; j < k; j++) {
      const total = counts[i]![j]! + counts[j]![i]!;
      if (total > 0) pairs.push({ a: a.run.classes[i]!, b: a.run.classes[j]!, aAsB: counts[i]![j]!, bAsA: counts[j]![i]!, total });
    }
  }
  return pairs.sort((x, y) => y.total - x.total).slice(0, params.limit);
}

/** Metric deltas of two runs (b - a) and the images whose prediction changed. */
export function compareRuns(db: Db, params: { a: number; b: number; limit: number }): RunComparison {
  const a = getRun(db, params.a);
  const b = getRun(db, params.b);
  const deltas: RunComparison['deltas'] = [];
  for (const split of ['train', 'valid', 'test'] as const) {
    for (const metric of ['accuracy', 'macroF1', 'logLoss'] as const) {
      const va = a.metrics?.[split]?.[metric];
      const vb = b.metrics?.[split]?.[metric];
      if (va !== undefined && vb !== undefined) deltas.push({ split, metric, a: va, b: vb, delta: vb - va });
    }
  }
  const rows = sql(
    db,
    `SELECT pa.image_id AS imageId, i.path, pa.predicted AS pa, pb.predicted AS pb, c.name AS given
       FROM predictions pa JOIN predictions pb ON pb.image_id = pa.image_id AND pb.run_id = ? AND pb.in_sample = 0
       JOIN images i ON i.id = pa.image_id
       LEFT JOIN labels l ON l.image_id = i.id LEFT JOIN classes c ON c.id = l.class_id
      WHERE pa.run_id = ? AND pa.in_sample = 0 ORDER BY pa.image_id`,
  ).all(b.id, a.id) as Array<{ imageId: ImageId; path: string; pa: number; pb: number; given: string | null }>;
  const changed = rows
    .map((r) => ({ imageId: r.imageId, path: r.path, given: r.given, a: a.classes[r.pa]!, b: b.classes[r.pb]! }))
    .filter((r) => r.a !== r.b);
  return { a, b, deltas, changed: changed.slice(0, params.limit), changedTotal: changed.length };
}

