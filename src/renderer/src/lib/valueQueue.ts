/**
 * Pure helpers of the regression review queues (valueReview.svelte.ts holds the state): whether a
 * row was fixed since its run, and a fresh page merged with the rows this session fixed.
 */
import type { ValueIssueRow } from '../../../shared/regression';
import type { ImageId } from '../../../shared/types';

/** True when the row's value now differs from the value the run trained on (fixed since, here or elsewhere). */
export function isFixed(row: ValueIssueRow): boolean {
  return row.value !== row.actual;
}

/**
 * The rows of a fresh page with the rows this session fixed kept where they were when the core
 * no longer lists them (a queue may drop an image once its value changed): the person sees what they did.
 */
export function keepFixed(page: readonly ValueIssueRow[], shown: readonly ValueIssueRow[], fixes: ReadonlyMap<ImageId, number>): ValueIssueRow[] {
  const out = [...page];
  const listed = new Set(page.map((row) => row.imageId));
  shown.forEach((row, index) => {
    const value = fixes.get(row.imageId);
    if (value === undefined || listed.has(row.imageId)) return;
    out.splice(Math.min(index, out.length), 0, { ...row, value });
  });
  return out;
}
