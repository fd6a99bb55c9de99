/**
 * The effect of the fixes. A review session is the edit batches (not undone) made between one
 * finished run and the next, read from the change log (the source of truth; nothing else is stored).
 * After the next run: how many of the images the session relabelled or marked reviewed the new run
 * predicts (out-of-sample) as the label they now have, and the metric changes between the two runs.
 * Classification runs only: a regression run predicts values, so it neither bounds a session nor
 * measures one (its value edits and errors are not counted here).
 */
import type { ReviewSession, RunSummary } from '../../shared/train';
import type { ImageId } from '../../shared/types';
import type { Db } from '../store/db';
import { editChangesBetween, predictedLabels } from '../store/signals';
import { listRuns } from '../train/runs';

/** Every review session, oldest first. */
export function reviewSessions(db: Db): ReviewSession[] {
  // Finished runs in dataset-version order; runs on the same version bound no session (the latest counts).
  const done = listRuns(db)
    .filter((r) => r.status === 'done' && r.task === 'classification')
    .sort((a, b) => a.datasetVersion - b.datasetVersion || a.id - b.id);
  const bounds: RunSummary[] = [];
  for (const run of done) {
    if (bounds.length > 0 && bounds[bounds.length - 1]!.datasetVersion === run.datasetVersion) bounds[bounds.length - 1] = run;
    else bounds.push(run);
  }
  const sessions: ReviewSession[] = [];
  bounds.forEach((before, i) => {
    const after = bounds[i + 1] ?? null;
    const changes = editChangesBetween(db, before.datasetVersion, after?.datasetVersion ?? null);
    if (changes.length === 0) return;
    const relabelled = new Set<ImageId>();
    const removed = new Set<ImageId>();
    const reviewed = new Set<ImageId>();
    for (const c of changes) {
      if (c.field === 'class') relabelled.add(c.imageId);
      else if (c.field === 'status' && c.newValue !== 'active') removed.add(c.imageId);
      else if (c.field === 'reviewed' && c.newValue === '1') reviewed.add(c.imageId);
    }
    const touched = new Set([...relabelled, ...removed, ...reviewed]);
    // A loop, not Math.min(...): a spread of a long session's changes overflows the call stack.
    let firstAt = Infinity;
    let lastAt = -Infinity;
    for (const c of changes) {
      if (c.createdAt < firstAt) firstAt = c.createdAt;
      if (c.createdAt > lastAt) lastAt = c.createdAt;
    }
    const session: ReviewSession = {
      beforeRunId: before.id,
      afterRunId: after?.id ?? null,
      batches: new Set(changes.map((c) => c.batchId)).size,
      firstAt,
      lastAt,
      touched: { total: touched.size, relabelled: relabelled.size, removed: removed.size, reviewed: reviewed.size },
      agreement: null,
      deltas: [],
    };
    if (after) {
      const kept = new Set([...relabelled, ...reviewed].filter((id) => !removed.has(id)));
      let predicted = 0;
      let agrees = 0;
      for (const r of predictedLabels(db, after.id)) {
        if (!kept.has(r.imageId) || r.given === null) continue;
        predicted++;
        if (r.predicted === r.given) agrees++;
      }
      session.agreement = { predicted, agrees, rate: predicted > 0 ? agrees / predicted : 0 };
      for (const split of ['train', 'valid', 'test'] as const) {
        for (const metric of ['accuracy', 'macroF1', 'logLoss'] as const) {
          const b = before.metrics?.[split]?.[metric];
          const a = after.metrics?.[split]?.[metric];
          if (a !== undefined && b !== undefined) session.deltas.push({ split, metric, before: b, after: a, delta: a - b });
        }
      }
    }
    sessions.push(session);
  });
  return sessions;
}
