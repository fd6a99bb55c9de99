/**
 * Comparisons that cannot mislead: a run's stored predictions scored against the labels it was
 * stored with and against today's, with what changed in valid and test since (relabelled images,
 * images that joined or left); and two runs compared on today's labels, their changed predictions
 * classed as fixed, broken or other and sortable by the change in confidence.
 */
import type { ChangedPrediction, ChangeFilter, ChangeKind, CheckedComparison, LabelDrift, RescoredRun } from '../../shared/experiments';
import type { ImageId, SplitName } from '../../shared/types';
import type { SplitMetrics } from '../../shared/train';
import { datasetVersion } from '../store/changes';
import type { Db } from '../store/db';
import { imagesNow, predictionRows, type ImageNow, type StoredPrediction } from '../store/experiments';
import { computeMetrics, argmax } from '../train/metrics';
import { getRunOf } from '../train/runs';

const isScored = (split: SplitName | null): split is 'valid' | 'test' => split === 'valid' || split === 'test';

function metricsOf(classes: readonly string[], rows: Array<{ given: number; probabilities: Float32Array }>): SplitMetrics | null {
  return rows.length === 0 ? null : computeMetrics(classes, rows.map((r) => r.given), rows.map((r) => r.probabilities));
}

/** Scores one run's stored rows against the labels they were stored with and against `today`. */
export function rescoreWith(runId: number, runVersion: number, currentVersion: number, classes: readonly string[], rows: readonly StoredPrediction[], today: ReadonlyMap<ImageId, ImageNow>): RescoredRun {
  const outOfSample = rows.filter((r) => !r.inSample);
  const byImage = new Map(outOfSample.map((r) => [r.imageId, r]));
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const stored = { valid: [] as Array<{ given: number; probabilities: Float32Array }>, test: [] as Array<{ given: number; probabilities: Float32Array }> };
  const now = { valid: [] as Array<{ given: number; probabilities: Float32Array }>, test: [] as Array<{ given: number; probabilities: Float32Array }> };
  let relabelled = 0;
  let added = 0;
  let removed = 0;
  for (const r of rows) {
    if (!isScored(r.split)) continue;
    if (r.given !== null && !r.inSample) stored[r.split].push({ given: r.given, probabilities: r.probabilities });
    const image = today.get(r.imageId);
    if (!image || image.split !== r.split) {
      removed++;
      continue;
    }
    const was = r.given === null ? null : classes[r.given]!;
    if (was !== image.label) relabelled++;
  }
  let unknownClass = 0;
  for (const image of today.values()) {
    if (!isScored(image.split)) continue;
    const row = byImage.get(image.imageId);
    if (!row || row.split !== image.split) added++;
    if (!row || image.label === null) continue;
    const index = classIndex.get(image.label);
    if (index === undefined) {
      unknownClass++;
      continue;
    }
    now[image.split].push({ given: index, probabilities: row.probabilities });
  }
  const changed = relabelled + added + removed > 0;
  const parts = [relabelled > 0 ? `${relabelled} valid/test label${relabelled === 1 ? '' : 's'} changed` : '', added > 0 ? `${added} image${added === 1 ? '' : 's'} joined valid/test` : '', removed > 0 ? `${removed} image${removed === 1 ? '' : 's'} left valid/test` : ''].filter(Boolean);
  const message = changed
    ? `${parts.join(', ')} since run ${runId} was trained (dataset version ${runVersion}, now ${currentVersion}): its stored metrics are on other labels; the re-scored figures use today's.${unknownClass > 0 ? ` ${unknownClass} image${unknownClass === 1 ? ' has a class' : 's have classes'} the run never saw and ${unknownClass === 1 ? 'is' : 'are'} left out.` : ''}`
    : `Valid and test are as they were when run ${runId} was trained.`;
  const drift: LabelDrift = { changed, relabelled, added, removed, message };
  return {
    runId,
    runVersion,
    currentVersion,
    drift,
    stored: { valid: metricsOf(classes, stored.valid), test: metricsOf(classes, stored.test) },
    today: { valid: metricsOf(classes, now.valid), test: metricsOf(classes, now.test) },
  };
}

/** A run re-scored on today's labels. */
export function rescoreRun(db: Db, runId: number, today: ReadonlyMap<ImageId, ImageNow> = imagesNow(db)): RescoredRun {
  const run = getRunOf(db, runId, 'classification', 're-scoring on today\'s labels');
  return rescoreWith(runId, run.datasetVersion, datasetVersion(db), run.classes, predictionRows(db, runId), today);
}

/** How one changed prediction counts against today's label. */
export function changeKind(aPredicted: string, bPredicted: string, label: string | null): ChangeKind {
  if (label === null) return 'other';
  if (aPredicted !== label && bPredicted === label) return 'fixed';
  if (aPredicted === label && bPredicted !== label) return 'broken';
  return 'other';
}

/** Two runs compared on today's labels. */
export function compareOnToday(
  db: Db,
  aId: number,
  bId: number,
  options: { filter: ChangeFilter; sort: 'confidenceChange' | 'imageId'; offset: number; limit: number },
): CheckedComparison {
  const today = imagesNow(db);
  const a = getRunOf(db, aId, 'classification', 'comparisons on today\'s labels');
  const b = getRunOf(db, bId, 'classification', 'comparisons on today\'s labels');
  const aRows = predictionRows(db, aId).filter((r) => !r.inSample);
  const bRows = new Map(predictionRows(db, bId).filter((r) => !r.inSample).map((r) => [r.imageId, r]));
  const rescored = { a: rescoreRun(db, aId, today), b: rescoreRun(db, bId, today) };
  const mismatch = a.datasetVersion !== b.datasetVersion && (rescored.a.drift.changed || rescored.b.drift.changed);
  const older = a.datasetVersion <= b.datasetVersion ? rescored.a : rescored.b;
  const warning = mismatch
    ? `Runs ${aId} and ${bId} were trained on different valid/test labels or membership (dataset versions ${a.datasetVersion} and ${b.datasetVersion}). ${older.drift.message} Compare the re-scored figures.`
    : null;
  const counts: Record<ChangeKind, number> = { fixed: 0, broken: 0, other: 0 };
  const all: ChangedPrediction[] = [];
  const pOf = (classes: readonly string[], probabilities: Float32Array, label: string | null) => {
    if (label === null) return 0;
    const i = classes.indexOf(label);
    return i < 0 ? 0 : probabilities[i]!;
  };
  for (const ra of aRows) {
    const rb = bRows.get(ra.imageId);
    const image = today.get(ra.imageId);
    if (!rb || !image) continue;
    const pa = a.classes[argmax(ra.probabilities)]!;
    const pb = b.classes[argmax(rb.probabilities)]!;
    if (pa === pb) continue;
    const change = changeKind(pa, pb, image.label);
    counts[change]++;
    const aConfidence = pOf(a.classes, ra.probabilities, image.label);
    const bConfidence = pOf(b.classes, rb.probabilities, image.label);
    all.push({ imageId: ra.imageId, path: image.path, split: image.split, given: image.label, a: pa, b: pb, change, aConfidence, bConfidence, confidenceChange: bConfidence - aConfidence });
  }
  const filtered = options.filter === 'all' ? all : all.filter((r) => r.change === options.filter);
  if (options.sort === 'confidenceChange') filtered.sort((x, y) => Math.abs(y.confidenceChange) - Math.abs(x.confidenceChange) || x.imageId - y.imageId);
  return { a: aId, b: bId, rescored, mismatch, warning, counts, rows: filtered.slice(options.offset, options.offset + options.limit), total: filtered.length };
}
