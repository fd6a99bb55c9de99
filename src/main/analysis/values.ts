/**
 * The regression review queues, from a regression run's out-of-sample predicted values: the worst
 * absolute residuals ('residual'), and the likely target errors ('target'): values far outside what
 * the model's out-of-sample error is for similar images.
 *
 * Out-of-sample rows only: a quick run predicts each labelled train and valid image by the fold head
 * that never saw it (fold >= 0), and the test images (and any other image with a value) by the final
 * head, which trained on train only (early-stopped on valid, whose labelled images the fold heads
 * predict); any row a head fitted on (a train image no fold held out) is stored in_sample and never
 * enters the queues. Rows need the value the run trained on.
 *
 * The 'target' score of a row, computed once per run, train+valid and test apart (as the label
 * analysis does: test values never vote on train ones), from its K = 10 nearest images by the run's
 * embeddings (cosine, the label analysis's neighbour search, stored with the run), same group only:
 *   z_residual = |r - median(r of the K)| / max(1.4826 × MAD(r of the K), S_r)
 *   z_value    = |v - median(v of the K)| / max(1.4826 × MAD(v of the K), S_v)
 *   score      = (z_residual / S_r + z_value / S_v) / sqrt(1 / S_r² + 1 / S_v²)
 * r = predicted - value at the run, v = value at the run. S_r = 1.4826 × MAD of the group's residuals
 * (the global robust error scale), S_v = 1.4826 × the group's median |v - median(v of the K)| (how far
 * a value typically sits from its neighbours'). The local spreads only ever lower a z (the floors are
 * the group's scales): a hard region, where similar images all have large or scattered errors, does
 * not fill the queue, while a wrong value stands out against both its neighbours' errors and their
 * values. Centring on the neighbours' median residual removes a bias the model shares across similar
 * images (regression towards the mean at the ends of the range). The two z-scores are weighted by
 * how sharp each estimate of the value is (a wrong value off by d moves z_residual by about d / S_r
 * and z_value by d / S_v, so each is weighted by 1 / its scale, then scaled back to a z-score): where
 * the embeddings' neighbours predict values poorly (S_v large), the model's residual decides. On the
 * Fashion-MNIST brightness bench (7,000 images, 5% of values moved 40-80, the image baseline's
 * embeddings; npm run bench -- regression) precision at k = the number corrupted was
 * 0.945 this way, against 0.934 for the plain mean of the two, 0.940 for the group z-score alone and
 * 0.934 for the largest residual. A row with fewer than 5 neighbours in its group, and every row of a
 * run without embeddings, gets the group's robust z-score |r - median(r)| / S_r instead. The queue
 * holds the rows scoring at least 3.
 *
 * Queues reflect the dataset now: an image removed since the run, or whose value was edited (it no
 * longer is the value the run trained on, whether the edit brought it near the prediction or not: a
 * person has dealt with it, as a relabelled image leaves the label queue), leaves them; reviewed
 * images too unless asked for. Without a run asked for, the latest finished regression run feeds
 * them (or the one chosen in Review: source.ts valueQueueSource).
 */
import { LoupeError } from '../../shared/errors';
import { assertNever } from '../../shared/assertNever';
import type { RequestParams } from '../../shared/contract';
import type { ValueIssueKind, ValueIssuePage, ValueIssueRow } from '../../shared/regression';
import type { NeighbourRef, RunSummary } from '../../shared/train';
import type { ImageId, SplitName } from '../../shared/types';
import type { Db } from '../store/db';
import { imageValueStates, reviewedImageIds, valueEditsSince } from '../store/valueQueue';
import { getRun, valuePredictions } from '../train/runs';
import { median } from '../train/regressionMetrics';
import { neighboursOf, signalK, type NeighbourSearch } from './runSignals';
import type { SplitGroup } from './signals';
import { valueQueueSource } from './source';

/** Neighbours a row is compared with: the label analysis's kNN count. */
const neighbourK = signalK;
/** Fewer same-group neighbours than this and the median and MAD of them are too unsteady: the row is scored against its group. */
const minNeighbours = 5;
/** 1.4826 × the median absolute deviation estimates a normal distribution's standard deviation. */
const madToSd = 1.4826;
/** The 'target' queue holds rows scoring at least this: a z-score of 3, passed by about 0.3% of normally distributed clean errors (somewhat more where the two z-scores move together). */
const targetCutoff = 3;

/** One out-of-sample row of a regression run. */
interface ValueRow {
  imageId: ImageId;
  split: SplitName | null;
  fold: number;
  actual: number;
  predicted: number;
  residual: number;
}

/** The 'target' evidence of one row. */
interface TargetEvidence {
  score: number;
  /** The median value of its neighbours (null: scored against its group). */
  neighbourMedian: number | null;
  neighbourCount: number;
  zResidual: number;
  /** Null when scored against its group. */
  zValue: number | null;
}

/** A regression run's rows and both queues' orders, computed once per run (its predictions never change). */
interface ValueAnalysis {
  run: RunSummary;
  rows: ValueRow[];
  /** Per row, its same-group neighbours (row indexes, similarities), nearest first (the first neighbourK score it); null without embeddings. */
  neighbours: Array<{ rows: number[]; similarities: number[] }> | null;
  neighbourNote: string | null;
  target: TargetEvidence[];
  /** Row indexes, worst first. */
  orders: Record<ValueIssueKind, number[]>;
  /** Each group's median absolute residual: the typical error a residual is compared with in words. */
  typical: Record<SplitGroup, number>;
  /** The pages' typical error per split filter ('' for none), computed on first use. */
  typicalOf: Map<string, number | null>;
}

const analysed = new WeakMap<Db, Map<number, Promise<ValueAnalysis>>>();

const groupOf = (split: SplitName | null): SplitGroup => (split === 'test' ? 'test' : 'trainValid');

/** The analysis of a finished regression run, cached; the neighbours are searched by `search` (off the core's thread) the first time. */
async function analyseValues(db: Db, run: RunSummary, search: NeighbourSearch): Promise<ValueAnalysis> {
  let cache = analysed.get(db);
  if (!cache) analysed.set(db, (cache = new Map()));
  let work = cache.get(run.id);
  if (!work) {
    work = computeAnalysis(db, run, search);
    cache.set(run.id, work);
    const mine = work;
    work.catch(() => cache.get(run.id) === mine && cache.delete(run.id));
  }
  return work;
}

async function computeAnalysis(db: Db, run: RunSummary, search: NeighbourSearch): Promise<ValueAnalysis> {
  const rows: ValueRow[] = [];
  for (const p of valuePredictions(db, run.id)) {
    if (p.inSample || p.actual === null || p.residual === null) continue;
    rows.push({ imageId: p.imageId, split: p.split, fold: p.fold, actual: p.actual, predicted: p.predicted, residual: p.residual });
  }
  const stored = await neighboursOf(db, run, rows, search);
  const rowOf = new Map(rows.map((r, i) => [r.imageId, i]));
  const neighbours = stored.rows
    ? rows.map((r) => {
        const found = stored.rows!.get(r.imageId);
        const out = { rows: [] as number[], similarities: [] as number[] };
        if (!found) return out;
        for (let j = 0; j < found.ids.length; j++) {
          const other = rowOf.get(found.ids[j]! as ImageId);
          if (other === undefined || groupOf(rows[other]!.split) !== groupOf(r.split)) continue;
          out.rows.push(other);
          out.similarities.push(found.similarities[j]!);
        }
        return out;
      })
    : null;
  const { target, typical } = targetEvidence(rows, neighbours?.map((n) => n.rows.slice(0, neighbourK)) ?? null);
  const byResidual = rows.map((_, i) => i).sort((x, y) => Math.abs(rows[y]!.residual) - Math.abs(rows[x]!.residual) || rows[x]!.imageId - rows[y]!.imageId);
  const byTarget = byResidual.filter((i) => target[i]!.score >= targetCutoff).sort((x, y) => target[y]!.score - target[x]!.score);
  return { run, rows, neighbours, neighbourNote: stored.note, target, orders: { residual: byResidual, target: byTarget }, typical, typicalOf: new Map() };
}

/**
 * Each row's 'target' evidence (the module comment's score), the groups computed apart, and each
 * group's median absolute residual. `neighbours`: per row, its same-group neighbours' row indexes
 * (null: no embeddings).
 */
export function targetEvidence(
  rows: ReadonlyArray<Pick<ValueRow, 'split' | 'actual' | 'residual'>>,
  neighbours: ReadonlyArray<readonly number[]> | null,
): { target: TargetEvidence[]; typical: Record<SplitGroup, number> } {
  const target = new Array<TargetEvidence>(rows.length);
  const typical = { trainValid: 0, test: 0 } satisfies Record<SplitGroup, number>;
  for (const group of ['trainValid', 'test'] as const) {
    const members = rows.map((_, i) => i).filter((i) => groupOf(rows[i]!.split) === group);
    if (members.length === 0) continue;
    const residuals = members.map((i) => rows[i]!.residual);
    typical[group] = median(residuals.map(Math.abs));
    const centre = median(residuals);
    const residualScale = robustScale(residuals.map((r) => r - centre));
    // The rows with enough neighbours: their neighbours' median value, and the group's scale of v - that median.
    const local = new Map<number, { medianValue: number }>();
    if (neighbours) {
      for (const i of members) {
        const n = neighbours[i]!;
        if (n.length >= minNeighbours) local.set(i, { medianValue: median(n.map((j) => rows[j]!.actual)) });
      }
    }
    const valueScale = robustScale([...local].map(([i, l]) => rows[i]!.actual - l.medianValue));
    const [wResidual, wValue] = [1 / residualScale, 1 / valueScale];
    const norm = Math.sqrt(wResidual ** 2 + wValue ** 2);
    for (const i of members) {
      const row = rows[i]!;
      const l = local.get(i);
      if (!l) {
        const z = Math.abs(row.residual - centre) / residualScale;
        target[i] = { score: z, neighbourMedian: null, neighbourCount: neighbours?.[i]?.length ?? 0, zResidual: z, zValue: null };
        continue;
      }
      const n = neighbours![i]!;
      const nResiduals = n.map((j) => rows[j]!.residual);
      const nValues = n.map((j) => rows[j]!.actual);
      const zResidual = Math.abs(row.residual - median(nResiduals)) / Math.max(madToSd * mad(nResiduals), residualScale);
      const zValue = Math.abs(row.actual - l.medianValue) / Math.max(madToSd * mad(nValues), valueScale);
      target[i] = { score: (wResidual * zResidual + wValue * zValue) / norm, neighbourMedian: l.medianValue, neighbourCount: n.length, zResidual, zValue };
    }
  }
  return { target, typical };
}

/** The median absolute deviation from the median. */
function mad(values: readonly number[]): number {
  const m = median(values);
  return median(values.map((v) => Math.abs(v - m)));
}

/**
 * 1.4826 × the median size of deviations from a centre. When more than half are exactly 0 (a
 * perfect fit) the mean size stands in, and 1 when every one is 0 (nothing stands out: every z is 0).
 */
function robustScale(deviations: readonly number[]): number {
  const sizes = deviations.map(Math.abs);
  const s = madToSd * median(sizes);
  if (s > 0) return s;
  const meanSize = sizes.length > 0 ? sizes.reduce((a, b) => a + b, 0) / sizes.length : 0;
  return meanSize > 0 ? meanSize : 1;
}

/** The finished regression run of this id; CONFLICT for a classification run or an unfinished one. */
function regressionRun(db: Db, runId: number): RunSummary {
  const run = getRun(db, runId);
  switch (run.task) {
    case 'regression':
      break;
    case 'classification':
      throw new LoupeError('CONFLICT', `Run ${run.id} is a classification run: its queues are the label queues (review:queue; loupe issues --kind loss, label or confused). Pick a regression run.`, { runId: run.id });
    default:
      return assertNever(run.task, 'task');
  }
  if (run.status !== 'done') throw new LoupeError('CONFLICT', `Run ${run.id} is ${run.status}; queues come from finished runs.`, { runId: run.id });
  return run;
}

/**
 * The rows that have left the queues: images removed or whose value changed since the run (their
 * value now is not the one the run trained on), and, unless asked for, those marked reviewed.
 */
function departed(db: Db, a: ValueAnalysis, includeReviewed: boolean): Set<ImageId> {
  const out = new Set<ImageId>();
  const actualOf = new Map(a.rows.map((r) => [r.imageId, r.actual]));
  for (const c of valueEditsSince(db, a.run.datasetVersion)) {
    const actual = actualOf.get(c.id);
    if (actual !== undefined && (c.status !== 'active' || c.value !== actual)) out.add(c.id);
  }
  if (!includeReviewed) for (const id of reviewedImageIds(db)) out.add(id);
  return out;
}

/** "41.2", "0.00312", "1.25e+6": three significant figures, more before the point when it has them. */
function num(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1e6 || (v !== 0 && Math.abs(v) < 1e-3)) return v.toExponential(2);
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(3);
}

/** Why a row is in a queue, in words. */
function reasonOf(a: ValueAnalysis, i: number, kind: ValueIssueKind): string {
  const r = a.rows[i]!;
  const head = `predicted ${num(r.predicted)}, labelled ${num(r.actual)}`;
  switch (kind) {
    case 'residual': {
      const typical = a.typical[groupOf(r.split)];
      const times = typical > 0 ? `, ${(Math.abs(r.residual) / typical).toFixed(1)} times the typical error (${num(typical)})` : '';
      return `${head}: off by ${num(Math.abs(r.residual))}${times}`;
    }
    case 'target': {
      const t = a.target[i]!;
      if (t.zValue === null || t.neighbourMedian === null) {
        return `${head}: the error is ${t.zResidual.toFixed(1)} times the spread of the errors in its split group${a.neighbours ? ` (only ${t.neighbourCount} similar images to compare with)` : ''}`;
      }
      return `${head}; its ${t.neighbourCount} most similar images are labelled ${num(t.neighbourMedian)} (median): the error is ${t.zResidual.toFixed(1)} times the spread of similar images' errors, the value ${t.zValue.toFixed(1)} times the spread of their values`;
    }
    default:
      return assertNever(kind, 'kind');
  }
}

/** How a queue is ordered, in words. */
function methodOf(a: ValueAnalysis, kind: ValueIssueKind): string {
  switch (kind) {
    case 'residual':
      return 'Largest absolute out-of-sample residual (predicted - labelled) first; the typical error is the median absolute residual.';
    case 'target':
      return a.neighbours
        ? `Robust z-scores against the ${neighbourK} most similar images (${a.neighbourNote ?? 'by the run’s embeddings'}): the residual's distance from their median residual over 1.4826 × their MAD, and the value's distance from their median value over 1.4826 × the MAD of their values, each spread never below its train+valid or test group's; the score weights the two by 1 / their group's scale (the group's robust z-score of the residual for an image with fewer than ${minNeighbours} similar images). Images scoring at least ${targetCutoff}, highest first.`
        : `No embeddings for similar images (${a.neighbourNote ?? 'none cached'}): the robust z-score of each residual in its train+valid or test group, |residual - median| / (1.4826 × MAD). Images scoring at least ${targetCutoff}, highest first.`;
    default:
      return assertNever(kind, 'kind');
  }
}

/** One page of a regression review queue (review:values). */
export async function valueIssuePage(db: Db, params: RequestParams<'review:values'>, search: NeighbourSearch): Promise<ValueIssuePage> {
  const source = params.runId === undefined ? valueQueueSource(db) : null;
  const runId = params.runId ?? source?.runId;
  if (runId === undefined) return { runId: null, total: 0, rows: [], typicalError: null, method: 'No finished regression run: train the quick model on this regression project first.', source: null };
  const a = await analyseValues(db, regressionRun(db, runId), search);
  const gone = departed(db, a, params.includeReviewed);
  const inScope = (i: number) => params.split === undefined || a.rows[i]!.split === params.split;
  const live = a.orders[params.kind].filter((i) => inScope(i) && !gone.has(a.rows[i]!.imageId));
  const picked = live.slice(params.offset, params.offset + params.limit);
  const neighbourIds = picked.flatMap((i) => (a.neighbours?.[i]?.rows ?? []).slice(0, neighbourK).map((j) => a.rows[j]!.imageId));
  const states = imageValueStates(db, [...picked.map((i) => a.rows[i]!.imageId), ...neighbourIds]);
  const rows = picked.map((i): ValueIssueRow => {
    const r = a.rows[i]!;
    const state = states.get(r.imageId);
    const t = a.target[i]!;
    return {
      imageId: r.imageId,
      path: state?.path ?? '',
      split: r.split,
      value: state?.value ?? null,
      actual: r.actual,
      predicted: r.predicted,
      residual: r.residual,
      score: params.kind === 'residual' ? Math.abs(r.residual) : t.score,
      neighbourMedian: t.neighbourMedian,
      fold: r.fold,
      reviewed: state?.reviewed ?? false,
      reason: reasonOf(a, i, params.kind),
      neighbours: neighbourRefs(a, i, neighbourK, (id) => states.get(id)?.path ?? ''),
    };
  });
  const scope = params.split ?? '';
  if (!a.typicalOf.has(scope)) {
    const scoped = a.rows.filter((_, i) => inScope(i));
    a.typicalOf.set(scope, scoped.length > 0 ? median(scoped.map((r) => Math.abs(r.residual))) : null);
  }
  return {
    runId: a.run.id,
    total: live.length,
    rows,
    typicalError: a.typicalOf.get(scope)!,
    method: methodOf(a, params.kind),
    source,
  };
}

/** Row i's nearest images (at most k), with their values at the run as text in `given`. */
function neighbourRefs(a: ValueAnalysis, i: number, k: number, path: (id: ImageId) => string): NeighbourRef[] {
  const n = a.neighbours?.[i];
  if (!n) return [];
  return n.rows.slice(0, k).map((j, c) => ({ imageId: a.rows[j]!.imageId, path: path(a.rows[j]!.imageId), given: String(a.rows[j]!.actual), similarity: n.similarities[c]! }));
}

/** The nearest images of one image by a regression run's embeddings (review:neighbours on a regression run), with their values at the run. */
export async function valueNeighbours(db: Db, params: { runId: number; imageId: number; k: number }, search: NeighbourSearch): Promise<NeighbourRef[]> {
  const a = await analyseValues(db, regressionRun(db, params.runId), search);
  const i = a.rows.findIndex((r) => r.imageId === params.imageId);
  if (i < 0) throw new LoupeError('NOT_FOUND', `Image ${params.imageId} has no out-of-sample predicted value in run ${params.runId}.`);
  const ids = (a.neighbours?.[i]?.rows ?? []).slice(0, params.k).map((j) => a.rows[j]!.imageId);
  const states = imageValueStates(db, ids);
  return neighbourRefs(a, i, params.k, (id) => states.get(id)?.path ?? '');
}
