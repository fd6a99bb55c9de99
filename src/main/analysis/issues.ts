/**
 * Review queues from a run's out-of-sample predictions (in-sample ones, a full run's train images,
 * never enter them): worst losses, likely label errors (the fused queue of signals.ts, or one
 * signal alone), a most-confused pair, one confusion cell. Queues reflect the dataset now: images
 * removed, reviewed or already relabelled since the run leave them at once. Without a run asked
 * for, the run with the best out-of-sample quality feeds them (source.ts).
 */
import { LoupeError } from '../../shared/errors';
import type { ComparedMetric, ConfusedPair, IssueKind, IssuePage, IssueRow, LabelSort, NeighbourRef, NoiseEstimate, RowSignals, RunComparison, RunSummary, WhyFlagged } from '../../shared/train';
import { comparedMetrics } from '../../shared/train';
import type { ImageId, SplitName } from '../../shared/types';
import { splitNames } from '../../shared/types';
import type { Db } from '../store/db';
import { sql } from '../store/statements';
import { getRun, getRunOf } from '../train/runs';
import { projectTask } from '../store/project';
import { assertNever } from '../../shared/assertNever';
import { conflictingDuplicates } from './duplicates';
import { expectedPrecision } from './noise';
import { floats, readPredictions, runSignals, signalK, withDuplicates, type NeighbourSearch, type PredictionRow, type RunSignals } from './runSignals';
import { queueSource, valueQueueSource } from './source';
import { valueNeighbours } from './values';

/** A run's predictions and signals, computed once per run (predictions never change). */
export interface Analysed {
  run: RunSummary;
  rows: PredictionRow[];
  probabilities: Float32Array[];
  /** Replaced (not mutated) when the conflicting-duplicate set changes. */
  signals: RunSignals;
  /** Each queue's order (cleared with the signals). */
  orders: Map<string, Picked[]>;
}

type Picked = { i: number; predicted: number; reason: string };

const analysed = new WeakMap<Db, Map<number, Promise<Analysed>>>();

/**
 * The analysis of a run, cached: computed once (the neighbours by `search`, off the core's thread);
 * when the conflicting-duplicate set changed, only the cheap fusion step reruns and the queue
 * orders are dropped.
 */
export async function analyseRun(db: Db, run: RunSummary, search: NeighbourSearch): Promise<Analysed> {
  if (run.status !== 'done') throw new LoupeError('CONFLICT', `Run ${run.id} is ${run.status}; queues come from finished runs.`);
  let cache = analysed.get(db);
  if (!cache) analysed.set(db, (cache = new Map()));
  const duplicates = conflictingDuplicates(db);
  let work = cache.get(run.id);
  if (!work) {
    work = (async () => {
      const rows = readPredictions(db, run.id);
      const probabilities = rows.map((r) => floats(r.probabilities));
      const signals = await runSignals(db, run, rows, probabilities, duplicates, search);
      return { run, rows, probabilities, signals, orders: new Map<string, Picked[]>() };
    })();
    cache.set(run.id, work);
    const mine = work;
    work.catch(() => cache.get(run.id) === mine && cache.delete(run.id));
  }
  const a = await work;
  if (!sameSet(a.signals.duplicates, duplicates)) {
    a.signals = withDuplicates(a.signals, a.rows, duplicates);
    a.orders.clear();
  }
  return a;
}

function sameSet(a: ReadonlySet<ImageId> | null, b: ReadonlySet<ImageId> | null): boolean {
  if (a === b) return true;
  if (!a || !b || a.size !== b.size) return false;
  for (const id of a) if (!b.has(id)) return false;
  return true;
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

/** Parameters of one queue page (review:queue). */
export interface QueueParams {
  runId?: number;
  kind: IssueKind;
  given?: string;
  predicted?: string;
  includeReviewed: boolean;
  sort?: LabelSort;
  split?: SplitName;
  offset: number;
  limit: number;
  window?: number;
}

/** One page of a review queue. */
export async function issueQueue(db: Db, params: QueueParams, search: NeighbourSearch): Promise<IssuePage> {
  const source = params.runId === undefined ? queueSource(db) : null;
  const runId = params.runId ?? source?.runId;
  if (runId === undefined) return { runId: null, total: 0, rows: [], estimate: null, sort: null, calibration: null, source: null, available: [] };
  const a = await analyseRun(db, getRunOf(db, runId, 'classification', 'the label queues'), search);
  const { run, rows } = a;
  const classes = run.classes;
  const indexOf = (name: string | undefined, what: string) => {
    const i = name === undefined ? -1 : classes.indexOf(name);
    if (i < 0) throw new LoupeError('VALIDATION', `${what} must be one of the run's classes: ${classes.join(', ')}.`);
    return i;
  };
  const sort: LabelSort = params.sort ?? 'fused';
  const gone = departed(db, a, params.includeReviewed);
  const isLive = (r: PredictionRow) => r.given !== null && !gone.has(r.imageId) && (params.split === undefined || r.split === params.split);
  const key = `${params.kind}:${params.kind === 'label' ? sort : ''}:${params.given ?? ''}:${params.predicted ?? ''}`;
  let picked = a.orders.get(key);
  if (!picked) {
    picked = order(a, params.kind, sort, indexOf, params.given, params.predicted);
    a.orders.set(key, picked);
  }
  const live = picked.filter(({ i }) => isLive(rows[i]!));
  const pathOf = sql(db, 'SELECT path FROM images WHERE id = ?');
  const path = (id: number) => (pathOf.get(id) as { path: string } | undefined)?.path ?? '';
  const page = live.slice(params.offset, params.offset + params.limit).map(({ i, predicted, reason }): IssueRow => {
    const r = rows[i]!;
    const p = a.probabilities[i]!;
    return {
      imageId: r.imageId,
      path: path(r.imageId),
      split: r.split,
      given: classes[r.given!]!,
      predicted: classes[predicted]!,
      probability: p[predicted]!,
      givenProbability: r.givenProb ?? 0,
      loss: r.loss ?? 0,
      fold: r.fold,
      reason,
      signals: rowSignals(a, i),
      why: params.kind === 'label' ? whyFlagged(a, i) : null,
      neighbours: neighbourRefs(a, i, signalK, path),
    };
  });
  const s = a.signals.signals;
  const pWrongOf = (i: number) => {
    const r = a.signals.rowOf.get(rows[i]!.imageId);
    return r === undefined ? 0 : s.pWrong[r]!;
  };
  const estimate: NoiseEstimate | null =
    params.kind === 'label' ? noiseEstimate(a, params.split, live.slice(params.offset, params.offset + (params.window ?? 50)).map(({ i }) => pWrongOf(i))) : null;
  return {
    runId: run.id,
    total: live.length,
    rows: page,
    estimate,
    sort: params.kind === 'label' ? sort : null,
    calibration: s.calibration,
    source,
    available: s.available,
  };
}


/** The estimate over the rows of `split` (every labelled row when omitted), and the next rows' expected precision. */
function noiseEstimate(a: Analysed, split: SplitName | undefined, next: number[]): NoiseEstimate {
  const s = a.signals.signals;
  let sum = 0;
  let of = 0;
  let clSum = 0;
  const inScope = (sp: SplitName | null) => split === undefined || sp === split;
  a.signals.labelled.forEach((i, r) => {
    if (!inScope(a.rows[i]!.split)) return;
    sum += s.pWrong[r]!;
    of++;
  });
  // Confident learning's rate per group, weighted by the group's rows in scope.
  for (const group of ['trainValid', 'test'] as const) {
    const rowsInScope = a.signals.labelled.filter((i) => inScope(a.rows[i]!.split) && (a.rows[i]!.split === 'test') === (group === 'test')).length;
    clSum += s.groups[group].confidentLearningRate * rowsInScope;
  }
  return {
    noiseRate: of > 0 ? sum / of : 0,
    labels: Math.round(sum),
    of,
    method:
      'Each label’s chance of being wrong, from the calibrated model and its nearest images under a uniform label-noise model whose rate is fitted to the run (train+valid and test apart); their sum is the estimate.',
    confidentLearningRate: of > 0 ? clSum / of : 0,
    next: expectedPrecision(next),
  };
}

/** The signals of prediction row i (null: unlabelled). */
function rowSignals(a: Analysed, i: number): RowSignals | null {
  const r = a.signals.rowOf.get(a.rows[i]!.imageId);
  if (r === undefined) return null;
  const s = a.signals.signals;
  return {
    selfConfidence: s.selfConfidence[r]!,
    margin: s.margin[r]!,
    confident: s.confident[r]!,
    knn: s.knn ? s.knn[r]! : null,
    ensemble: s.ensemble ? s.ensemble[r]! : null,
    duplicate: s.duplicate[r]!,
    fused: s.fused[r]!,
    pWrong: s.pWrong[r]!,
  };
}

/** Prediction row i's nearest images (at most k), with their labels at the run. */
function neighbourRefs(a: Analysed, i: number, k: number, path: (id: number) => string): NeighbourRef[] {
  const r = a.signals.rowOf.get(a.rows[i]!.imageId);
  const n = r === undefined ? undefined : a.signals.neighbours?.[r];
  if (!n) return [];
  return [...n.ids.subarray(0, k)].map((id, j) => {
    const row = a.signals.rowOf.get(id as ImageId);
    const given = row === undefined ? null : a.rows[a.signals.labelled[row]!]!.given;
    return { imageId: id as ImageId, path: path(id), given: given === null ? null : a.run.classes[given]!, similarity: n.similarities[j]! };
  });
}

/** The nearest images of one image by a run's embeddings (review:neighbours). */
export async function imageNeighbours(db: Db, params: { runId?: number; imageId: number; k: number }, search: NeighbourSearch): Promise<NeighbourRef[]> {
  // Without a run: the source of the queues of the project's task now (a binned project's classifier, or its regression run once unbinned).
  const runId = params.runId ?? (projectTask(db) === 'regression' ? valueQueueSource(db)?.runId : queueSource(db)?.runId);
  if (runId === undefined) return [];
  const run = getRun(db, runId);
  switch (run.task) {
    case 'classification':
      break;
    case 'regression':
      // A regression run's neighbours come with their values (values.ts).
      return valueNeighbours(db, { ...params, runId }, search);
    default:
      return assertNever(run.task, 'task');
  }
  const a = await analyseRun(db, run, search);
  const i = a.rows.findIndex((r) => r.imageId === params.imageId);
  if (i < 0) throw new LoupeError('NOT_FOUND', `Image ${params.imageId} has no out-of-sample prediction in run ${runId}.`);
  const pathOf = sql(db, 'SELECT path FROM images WHERE id = ?');
  return neighbourRefs(a, i, params.k, (id) => (pathOf.get(id) as { path: string } | undefined)?.path ?? '');
}

/** Why prediction row i is flagged, as data. */
function whyFlagged(a: Analysed, i: number): WhyFlagged | null {
  const r = a.signals.rowOf.get(a.rows[i]!.imageId);
  if (r === undefined) return null;
  const s = a.signals.signals;
  const classes = a.run.classes;
  const given = a.rows[i]!.given!;
  const suggested = s.suggested[r]!;
  const p = s.calibrated[r]!;
  const n = a.signals.neighbours?.[r];
  let neighbours: WhyFlagged['neighbours'] = null;
  if (n) {
    const labels = [...n.ids.subarray(0, signalK)].map((id) => a.signals.rowOf.get(id as ImageId)).filter((x): x is number => x !== undefined).map((x) => a.rows[a.signals.labelled[x]!]!.given);
    neighbours = { count: labels.length, suggested: labels.filter((l) => l === suggested).length, given: labels.filter((l) => l === given).length };
  }
  return { given: classes[given]!, givenProbability: p[given]!, suggested: classes[suggested]!, suggestedProbability: p[suggested]!, neighbours };
}

/** The reason of a label-error row in words: "p(boot) 0.97 vs p(sneaker) 0.01; 9 of 10 nearest images are labelled boot". */
function labelReason(a: Analysed, i: number): string {
  const why = whyFlagged(a, i)!;
  const r = a.signals.rowOf.get(a.rows[i]!.imageId)!;
  const s = a.signals.signals;
  const parts = [`p(${why.suggested}) ${why.suggestedProbability.toFixed(2)} vs p(${why.given}) ${why.givenProbability.toFixed(2)}`];
  if (why.neighbours && why.neighbours.count > 0) {
    parts.push(
      why.neighbours.suggested > 0
        ? `${why.neighbours.suggested} of ${why.neighbours.count} nearest images are labelled ${why.suggested}`
        : `${why.neighbours.given} of ${why.neighbours.count} nearest images are labelled ${why.given}`,
    );
  }
  if (s.ensemble && s.ensemble[r]! > 0) parts.push(`${Math.round(s.ensemble[r]! * 100)}% of earlier runs predict another class`);
  if (s.duplicate[r]) parts.push('a duplicate of it carries another label');
  if (s.confident[r]) parts.push('confident learning flags it');
  parts.push(`about ${Math.round(s.pWrong[r]! * 100)}% likely wrong`);
  return parts.join('; ');
}

/** A queue's rows in order, worst first. */
function order(
  a: Analysed,
  kind: IssueKind,
  sort: LabelSort,
  indexOf: (name: string | undefined, what: string) => number,
  givenName: string | undefined,
  predictedName: string | undefined,
): Picked[] {
  const { rows } = a;
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
      picked = labelOrder(a, sort).map((i) => ({ i, predicted: a.signals.signals.suggested[a.signals.rowOf.get(rows[i]!.imageId)!]!, reason: labelReason(a, i) }));
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

/**
 * The label queue's rows (prediction indexes), most likely wrong first. fused: the rows whose
 * evidence favours another class, by P(wrong) then the fused score; one signal: the rows where it
 * says anything (self-confidence: every row; margin: another class more probable than the given;
 * knn and ensemble: some disagreement; confident and duplicate: members), by its value, ties by
 * the fused score. A signal the run lacks gives an empty queue.
 */
export function labelOrder(a: Analysed, sort: LabelSort): number[] {
  const s = a.signals.signals;
  const rowsOf = a.signals.labelled.map((i, r) => ({ i, r }));
  const fusedOrder = (x: { r: number }, y: { r: number }) => s.fused[y.r]! - s.fused[x.r]!;
  const by = (value: ArrayLike<number>, keep: (r: number) => boolean) =>
    rowsOf
      .filter(({ r }) => keep(r))
      .sort((x, y) => value[y.r]! - value[x.r]! || fusedOrder(x, y))
      .map(({ i }) => i);
  switch (sort) {
    case 'fused':
      return by(s.pWrong, (r) => s.fused[r]! > 0.5);
    case 'selfConfidence':
      return by(s.selfConfidence, () => true);
    case 'margin':
      return by(s.margin, (r) => s.margin[r]! > 0.5);
    case 'knn':
      return s.knn ? by(s.knn, (r) => s.knn![r]! > 0) : [];
    case 'ensemble':
      return s.ensemble ? by(s.ensemble, (r) => s.ensemble![r]! > 0) : [];
    case 'confident':
      return by(s.margin, (r) => s.confident[r]!);
    case 'duplicate':
      return by(s.fused, (r) => s.duplicate[r]!);
    default:
      return assertNever(sort, 'sort');
  }
}

/** The most-confused class pairs of a run, counted both ways (labelled images, out-of-sample). */
export function confusedPairs(db: Db, params: { runId?: number; limit: number }): ConfusedPair[] {
  const runId = params.runId ?? queueSource(db)?.runId;
  if (runId === undefined) return [];
  const run = getRun(db, runId);
  if (run.status !== 'done') throw new LoupeError('CONFLICT', `Run ${run.id} is ${run.status}; queues come from finished runs.`);
  const a = { run, rows: readPredictions(db, run.id) };
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

/**
 * Metric deltas of two runs of one task (b - a) and, for classifiers, the images whose predicted
 * class changed. Runs of different tasks are not comparable: CONFLICT.
 */
export function compareRuns(db: Db, params: { a: number; b: number; limit: number }): RunComparison {
  const a = getRun(db, params.a);
  const b = getRunOf(db, params.b, a.task, `comparing with run ${a.id}`);
  const deltas: RunComparison['deltas'] = [];
  const push = (split: SplitName, metric: ComparedMetric, va: number | undefined, vb: number | undefined) => {
    if (va !== undefined && vb !== undefined) deltas.push({ split, metric, a: va, b: vb, delta: vb - va });
  };
  switch (a.task) {
    case 'classification':
      for (const split of splitNames) for (const metric of comparedMetrics.classification) push(split, metric, a.metrics?.[split]?.[metric], b.metrics?.[split]?.[metric]);
      break;
    case 'regression':
      // Predicted values change a little on every retrain: there is no "prediction changed" list.
      for (const split of splitNames) for (const metric of comparedMetrics.regression) push(split, metric, a.valueMetrics?.[split]?.[metric], b.valueMetrics?.[split]?.[metric]);
      return { a, b, deltas, changed: [], changedTotal: 0 };
    default:
      return assertNever(a.task, 'task');
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

