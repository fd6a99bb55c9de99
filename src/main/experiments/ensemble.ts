/**
 * Ensembles: a run whose predictions are the average of its members' out-of-sample probabilities
 * on the images every member covers (in-sample rows, a full run's train images, are left out),
 * scored against today's labels. Its predictions are ordinary rows of the predictions table, so the
 * review queues, the confusion matrix and comparisons work on it unchanged. Members are scored on
 * the same rows the same way, so the table's member and ensemble figures compare fairly. The
 * fold-head ensemble of one quick run averages its k fold heads where none of them saw the image
 * (test, unlabelled) and keeps each train/valid image's out-of-fold prediction (k-1 of the heads
 * trained on it); its one member is the run itself on the same rows.
 */
import { LoupeError } from '../../shared/errors';
import type { EnsembleMember, EnsembleSource } from '../../shared/experiments';
import type { ImageId, SplitName } from '../../shared/types';
import type { RunMetrics, RunSummary, SplitMetrics } from '../../shared/train';
import type { Project } from '../store/project';
import { foldPredictionRows, imagesNow, predictionRows, setRunExperiment, type FoldPrediction, type ImageNow, type StoredPrediction } from '../store/experiments';
import { datasetVersion } from '../store/changes';
import { computeMetrics } from '../train/metrics';
import { createRun, getRunOf, savePredictions, updateRun } from '../train/runs';

/** One member's stored predictions. */
export interface MemberPredictions {
  runId: number;
  classes: readonly string[];
  rows: readonly StoredPrediction[];
}

/** One averaged row. */
export interface EnsembleRow {
  imageId: ImageId;
  split: SplitName | null;
  /** Class index (in the ensemble's classes) of today's label, or null. */
  given: number | null;
  /** 0 when every member predicted it out-of-fold (k-fold), -1 when any used its final model. */
  fold: number;
  probabilities: Float32Array;
}

/** The averaged rows and, per member, its own probabilities on the same rows (in the ensemble's class order). */
export interface EnsembleResult {
  classes: string[];
  rows: EnsembleRow[];
  members: Float32Array[][];
}

/** Averages members' out-of-sample probabilities on the images they all cover, labelled as today. */
export function averageMembers(members: readonly MemberPredictions[], today: ReadonlyMap<ImageId, Pick<ImageNow, 'label' | 'split'>>): EnsembleResult {
  if (members.length < 2) throw new LoupeError('VALIDATION', 'An ensemble needs at least two runs.');
  const classes = [...members[0]!.classes];
  const wanted = [...classes].sort().join('\n');
  for (const m of members) {
    if ([...m.classes].sort().join('\n') !== wanted) {
      throw new LoupeError('VALIDATION', `Run ${m.runId} predicts other classes than run ${members[0]!.runId}; ensemble runs trained on the same classes (retrain the older run on today's dataset).`, { runId: m.runId });
    }
  }
  // Each member's class order mapped to the ensemble's.
  const orders = members.map((m) => classes.map((c) => m.classes.indexOf(c)));
  const byImage = members.map((m) => new Map(m.rows.filter((r) => !r.inSample).map((r) => [r.imageId, r])));
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const rows: EnsembleRow[] = [];
  const memberProbs: Float32Array[][] = members.map(() => []);
  const k = classes.length;
  for (const imageId of byImage[0]!.keys()) {
    const now = today.get(imageId);
    if (!now) continue;
    const parts = byImage.map((map) => map.get(imageId));
    if (parts.some((p) => p === undefined)) continue;
    const sum = new Float32Array(k);
    parts.forEach((p, m) => {
      const aligned = new Float32Array(k);
      for (let c = 0; c < k; c++) aligned[c] = p!.probabilities[orders[m]![c]!]!;
      memberProbs[m]!.push(aligned);
      for (let c = 0; c < k; c++) sum[c]! += aligned[c]! / members.length;
    });
    rows.push({
      imageId,
      split: now.split,
      given: now.label === null ? null : (classIndex.get(now.label) ?? null),
      fold: parts.every((p) => p!.fold >= 0) ? 0 : -1,
      probabilities: sum,
    });
  }
  return { classes, rows, members: memberProbs };
}

/** Metrics per split of probabilities on rows (labelled rows only). */
export function scoreRows(classes: readonly string[], rows: readonly Pick<EnsembleRow, 'split' | 'given'>[], probabilities: readonly Float32Array[]): RunMetrics {
  const of = (split: SplitName): SplitMetrics | null => {
    const given: number[] = [];
    const probs: Float32Array[] = [];
    rows.forEach((r, i) => {
      if (r.split === split && r.given !== null) {
        given.push(r.given);
        probs.push(probabilities[i]!);
      }
    });
    return given.length > 0 ? computeMetrics(classes, given, probs) : null;
  };
  return { train: of('train'), valid: of('valid'), test: of('test') };
}

/** A member's figures for the table. */
export function memberFigures(runId: number, metrics: RunMetrics): EnsembleMember {
  return {
    runId,
    accuracy: { train: metrics.train?.accuracy ?? null, valid: metrics.valid?.accuracy ?? null, test: metrics.test?.accuracy ?? null },
    logLoss: { train: metrics.train?.logLoss ?? null, valid: metrics.valid?.logLoss ?? null, test: metrics.test?.logLoss ?? null },
  };
}

/** Finished member runs, checked. */
export function requireMembers(project: Project, runIds: readonly number[]): RunSummary[] {
  const unique = [...new Set(runIds)];
  if (unique.length < 2) throw new LoupeError('VALIDATION', 'An ensemble needs at least two different runs.');
  return unique.map((id) => {
    const run = getRunOf(project.db, id, 'classification', 'ensembles');
    if (run.status !== 'done') throw new LoupeError('CONFLICT', `Run ${id} is ${run.status}; only finished runs can be ensembled.`, { runId: id });
    return run;
  });
}

/** Creates the ensemble's run record (running) with the first member's config, marked as an ensemble. */
export function createEnsembleRun(project: Project, source: EnsembleSource, config: RunSummary['config']): number {
  const runId = createRun(project.db, config, datasetVersion(project.db), 'classification');
  setRunExperiment(project.db, { runId, role: 'ensemble', searchId: null, trial: null, budget: null, members: [], source });
  return runId;
}

/** Fills the ensemble run from finished members: predictions, metrics, members' figures; marks it done. */
export function completeEnsemble(project: Project, runId: number, source: EnsembleSource, memberIds: readonly number[]): { metrics: RunMetrics; members: EnsembleMember[] } {
  const { db } = project;
  const started = performance.now();
  const runs = requireMembers(project, memberIds);
  const result = averageMembers(
    runs.map((r) => ({ runId: r.id, classes: r.classes, rows: predictionRows(db, r.id) })),
    imagesNow(db),
  );
  if (result.rows.length === 0) throw new LoupeError('CONFLICT', 'The runs share no image they all predicted out-of-sample; ensemble runs of the same dataset.');
  const metrics = scoreRows(result.classes, result.rows, result.rows.map((r) => r.probabilities));
  const members = runs.map((r, m) => memberFigures(r.id, scoreRows(result.classes, result.rows, result.members[m]!)));
  savePredictions(db, runId, result.rows.map((r) => ({ imageId: r.imageId, split: r.split, fold: r.fold, given: r.given, probabilities: r.probabilities })));
  setRunExperiment(db, { runId, role: 'ensemble', searchId: null, trial: null, budget: null, members, source });
  const seconds = (performance.now() - started) / 1000;
  updateRun(db, runId, {
    status: 'done',
    classes: result.classes,
    datasetVersion: datasetVersion(db),
    metrics,
    backend: runs[0]!.backend ?? undefined,
    backbone: { name: `ensemble of runs ${runs.map((r) => r.id).join(', ')}`, kind: runs[0]!.backbone?.kind ?? 'baseline', dim: 0, note: `The average of ${runs.length} runs' out-of-sample probabilities on the ${result.rows.length} images they all cover.` },
    timings: { totalSeconds: seconds, embedSeconds: 0, trainSeconds: 0, embedded: 0, cached: 0, imagesPerSecond: null },
    finishedAt: Date.now(),
  });
  return { metrics, members };
}

/**
 * The fold-head ensemble's rows: each image outside the folds as the mean of the k fold heads
 * (fold -1: predicted by heads that never saw it), each train/valid image as its stored
 * out-of-fold prediction (its fold), labelled as today; the run's own stored probabilities on the
 * same rows are its one member.
 */
export function averageFoldHeads(
  run: { runId: number; classes: readonly string[] },
  stored: readonly StoredPrediction[],
  foldHeads: readonly FoldPrediction[],
  today: ReadonlyMap<ImageId, Pick<ImageNow, 'label' | 'split'>>,
): EnsembleResult {
  const classes = [...run.classes];
  const k = classes.length;
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const own = new Map(stored.filter((r) => !r.inSample).map((r) => [r.imageId, r]));
  const rows: EnsembleRow[] = [];
  const member: Float32Array[] = [];
  const add = (imageId: ImageId, fold: number, probabilities: Float32Array) => {
    const now = today.get(imageId);
    const mine = own.get(imageId);
    if (!now || !mine) return;
    rows.push({ imageId, split: now.split, given: now.label === null ? null : (classIndex.get(now.label) ?? null), fold, probabilities });
    member.push(mine.probabilities);
  };
  for (const r of stored) if (r.fold >= 0 && !r.inSample) add(r.imageId, r.fold, r.probabilities);
  for (const h of foldHeads) {
    if (h.probabilities.length !== h.folds * k) throw new LoupeError('INTERNAL', `Run ${run.runId}'s fold-head predictions of image ${h.imageId} do not match its ${k} classes.`);
    const mean = new Float32Array(k);
    for (let f = 0; f < h.folds; f++) for (let c = 0; c < k; c++) mean[c]! += h.probabilities[f * k + c]!;
    for (let c = 0; c < k; c++) mean[c]! /= h.folds;
    add(h.imageId, -1, mean);
  }
  return { classes, rows, members: [member] };
}

/** A finished quick run that kept its fold heads' predictions, checked. */
export function requireFoldRun(project: Project, runId: number): RunSummary {
  const run = getRunOf(project.db, runId, 'classification', 'fold-head ensembles');
  if (run.status !== 'done') throw new LoupeError('CONFLICT', `Run ${runId} is ${run.status}; ensemble the fold heads of a finished quick run.`, { runId });
  if (run.config.mode !== 'quick') throw new LoupeError('VALIDATION', `Run ${runId} is a ${run.config.mode} run; fold heads are ensembled for quick runs (ensemble full runs with --runs or --seeds).`, { runId });
  if (foldPredictionRows(project.db, runId).length === 0) {
    throw new LoupeError('CONFLICT', `Run ${runId} kept no fold-head predictions: it has no test or unlabelled images, or it was trained before fold heads were kept. Retrain it (loupe train) and ensemble the new run.`, { runId });
  }
  return run;
}

/** Fills the fold-head ensemble run of a quick run: predictions, metrics, the run as its member; marks it done. */
export function completeFoldEnsemble(project: Project, runId: number, source: Extract<EnsembleSource, { kind: 'folds' }>): { metrics: RunMetrics; members: EnsembleMember[] } {
  const { db } = project;
  const started = performance.now();
  const run = requireFoldRun(project, source.runId);
  const heads = foldPredictionRows(db, run.id);
  const result = averageFoldHeads({ runId: run.id, classes: run.classes }, predictionRows(db, run.id), heads, imagesNow(db));
  if (result.rows.length === 0) throw new LoupeError('CONFLICT', `Run ${run.id}'s images are no longer in the dataset; ensemble a run of today's dataset.`, { runId: run.id });
  const metrics = scoreRows(result.classes, result.rows, result.rows.map((r) => r.probabilities));
  const members = [memberFigures(run.id, scoreRows(result.classes, result.rows, result.members[0]!))];
  savePredictions(db, runId, result.rows.map((r) => ({ imageId: r.imageId, split: r.split, fold: r.fold, given: r.given, probabilities: r.probabilities })));
  setRunExperiment(db, { runId, role: 'ensemble', searchId: null, trial: null, budget: null, members, source });
  const folds = heads[0]!.folds;
  updateRun(db, runId, {
    status: 'done',
    classes: result.classes,
    datasetVersion: datasetVersion(db),
    metrics,
    backend: run.backend ?? undefined,
    backbone: {
      name: `${folds} fold heads of run ${run.id}`,
      kind: run.backbone?.kind ?? 'baseline',
      dim: run.backbone?.dim ?? 0,
      note: `Test and unlabelled images: the mean of run ${run.id}'s ${folds} fold heads (none saw them); train and valid images: their out-of-fold prediction.`,
    },
    timings: { totalSeconds: (performance.now() - started) / 1000, embedSeconds: 0, trainSeconds: 0, embedded: 0, cached: 0, imagesPerSecond: null },
    finishedAt: Date.now(),
  });
  return { metrics, members };
}
