/**
 * Which run feeds the review queues when none is asked for: the one a person chose
 * (review:setSource), else the finished run with the best out-of-sample quality. Quality is the
 * out-of-sample log loss against the labels as they are now, over the labelled images every
 * candidate predicted out-of-sample, so runs are compared on the same images. Candidates are the
 * finished runs that cover at least half as many labelled images as the best-covering one (a full
 * run without folds predicts only valid and test images and cannot feed a train-set queue).
 * The ranking is cached per (dataset version, finished runs): a queue page does not re-read every
 * label and every run's predictions. The Review view pins the run its first page came from, so
 * relabelling (which moves the ranking) does not switch the run under a person mid-review.
 * Only classification runs feed these queues (a regression run predicts values, not classes); the
 * regression queues (values.ts) have their own source: the chosen run when it is a regression run,
 * else the latest finished regression run (valueQueueSource).
 */
import { LoupeError } from '../../shared/errors';
import { assertNever } from '../../shared/assertNever';
import type { QueueSource, RunSummary } from '../../shared/train';
import type { ImageId } from '../../shared/types';
import type { Db } from '../store/db';
import { datasetVersion } from '../store/changes';
import { chosenQueueSource, currentLabels, setChosenQueueSource } from '../store/signals';
import { getRun, latestDoneRunOf, listRuns } from '../train/runs';
import { floats, readPredictions } from './runSignals';

interface Scored {
  run: RunSummary;
  /** image → probability of its current label (0 when the run lacks the class). */
  pOfLabel: Map<ImageId, { p: number; correct: boolean }>;
}

type Cached = Array<{ imageId: ImageId; predicted: number; probabilities: Float32Array }>;
// A finished run's predictions never change; the labels do, so only the predictions are cached.
const cache = new WeakMap<Db, Map<number, Cached>>();

function scoredRun(db: Db, run: RunSummary, labels: Map<ImageId, string>): Scored {
  let runs = cache.get(db);
  if (!runs) cache.set(db, (runs = new Map()));
  let predictions = runs.get(run.id);
  if (!predictions) {
    predictions = readPredictions(db, run.id).map((r) => ({ imageId: r.imageId, predicted: r.predicted, probabilities: floats(r.probabilities) }));
    runs.set(run.id, predictions);
  }
  const pOfLabel = new Map<ImageId, { p: number; correct: boolean }>();
  for (const r of predictions) {
    const label = labels.get(r.imageId);
    if (label === undefined) continue;
    const j = run.classes.indexOf(label);
    pOfLabel.set(r.imageId, { p: j >= 0 ? r.probabilities[j]! : 0, correct: r.predicted === j });
  }
  return { run, pOfLabel };
}

/** The candidates ranked by quality, and over how many images, for one (dataset version, finished runs). */
interface Ranking {
  key: string;
  quality: QueueSource['candidates'];
  common: number;
}
const rankings = new WeakMap<Db, Ranking>();

/** The queue's source and the candidates, best first; null without a finished run. */
export function queueSource(db: Db): QueueSource | null {
  const done = listRuns(db).filter((r) => r.status === 'done' && r.task === 'classification');
  if (done.length === 0) return null;
  const key = `${datasetVersion(db)}:${done.map((r) => r.id).join(',')}`;
  let ranking = rankings.get(db);
  if (ranking?.key !== key) {
    ranking = { key, ...rank(db, done) };
    rankings.set(db, ranking);
  }
  const { quality, common } = ranking;
  const chosen = chosenQueueSource(db);
  const chosenRun = chosen !== null ? done.find((r) => r.id === chosen) : undefined;
  if (chosenRun) {
    return { runId: chosenRun.id, how: 'chosen', reason: `Run ${chosenRun.id}, chosen in Review.`, candidates: quality };
  }
  const best = quality[0];
  if (!best) {
    const latest = done[0]!;
    return { runId: latest.id, how: 'best', reason: `Run ${latest.id}, the latest finished run (no run has labelled out-of-sample predictions).`, candidates: quality };
  }
  const reason =
    quality.length === 1
      ? `Run ${best.runId}, the only finished run with out-of-sample predictions.`
      : `Run ${best.runId}: the lowest out-of-sample log loss (${best.logLoss.toFixed(3)}, accuracy ${(best.accuracy * 100).toFixed(1)}%) against the labels now, over the ${common} labelled images all ${quality.length} candidate runs predicted out-of-sample.`;
  return { runId: best.runId, how: 'best', reason, candidates: quality };
}

/** Scores every finished run on the labelled images all candidates predicted out-of-sample. */
function rank(db: Db, done: readonly RunSummary[]): Omit<Ranking, 'key'> {
  const labels = currentLabels(db);
  const scored = done.map((run) => scoredRun(db, run, labels));
  const most = Math.max(...scored.map((s) => s.pOfLabel.size));
  const candidates = scored.filter((s) => s.pOfLabel.size >= most / 2 && s.pOfLabel.size > 0);
  const common = candidates.length > 0 ? [...candidates[0]!.pOfLabel.keys()].filter((id) => candidates.every((c) => c.pOfLabel.has(id))) : [];
  const quality = candidates
    .map((c) => {
      let loss = 0;
      let correct = 0;
      for (const id of common) {
        const v = c.pOfLabel.get(id)!;
        loss -= Math.log(Math.max(v.p, 1e-7));
        if (v.correct) correct++;
      }
      return {
        runId: c.run.id,
        mode: c.run.config.mode,
        logLoss: common.length > 0 ? loss / common.length : Infinity,
        accuracy: common.length > 0 ? correct / common.length : 0,
        covered: c.pOfLabel.size,
        finishedAt: c.run.finishedAt,
      };
    })
    .sort((x, y) => x.logLoss - y.logLoss || y.runId - x.runId);
  return { quality, common: common.length };
}

/**
 * The run that feeds the regression queues when none is asked for: the one a person chose when it
 * is a finished regression run, else the latest finished regression run; null without one. Every
 * finished regression run is a candidate on the same footing (each predicts every image with a value
 * out-of-sample), so no ranking: `candidates` stays empty (its figures are classification's).
 */
export function valueQueueSource(db: Db): QueueSource | null {
  const chosen = chosenQueueSource(db);
  if (chosen !== null) {
    const run = listRuns(db).find((r) => r.id === chosen);
    if (run && run.status === 'done' && run.task === 'regression') return { runId: run.id, how: 'chosen', reason: `Run ${run.id}, chosen in Review.`, candidates: [] };
  }
  const latest = latestDoneRunOf(db, 'regression');
  if (!latest) return null;
  return { runId: latest.id, how: 'best', reason: `Run ${latest.id}, the latest finished regression run.`, candidates: [] };
}

/** Chooses the run that feeds the queues (null: back to the best); the new source (a regression run's: the regression queues' source). */
export function setQueueSource(db: Db, runId: number | null): QueueSource | null {
  const run = runId === null ? null : getRun(db, runId);
  if (run && run.status !== 'done') throw new LoupeError('CONFLICT', `Run ${run.id} is ${run.status}; only a finished run can feed the queues.`);
  setChosenQueueSource(db, runId);
  if (!run) return queueSource(db);
  switch (run.task) {
    case 'classification':
      return queueSource(db);
    case 'regression':
      return valueQueueSource(db);
    default:
      return assertNever(run.task, 'task');
  }
}
