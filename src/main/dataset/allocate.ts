import type { SplitName } from '../../shared/types';
import { splitNames } from '../../shared/types';

/** Split ratios; they need not sum to 1 (they are normalised). */
export type SplitRatios = Record<SplitName, number>;

/**
 * How many of `count` new items each split gets so that, together with the `existing` counts, every
 * split comes as close as it can to its share of the whole. Splits already over their share get
 * none; the rest is shared by largest remainder, so the result sums to `count` exactly.
 */
export function allocate(count: number, ratios: SplitRatios, existing: Record<SplitName, number>): Record<SplitName, number> {
  const ratioSum = splitNames.reduce((sum, s) => sum + ratios[s], 0);
  const total = count + splitNames.reduce((sum, s) => sum + existing[s], 0);
  const need = Object.fromEntries(
    splitNames.map((s) => [s, Math.max(0, (ratios[s] / ratioSum) * total - existing[s])]),
  ) as Record<SplitName, number>;
  let needSum = splitNames.reduce((sum, s) => sum + need[s], 0);
  if (needSum === 0) {
    for (const s of splitNames) need[s] = ratios[s];
    needSum = ratioSum;
  }
  const exact = splitNames.map((s) => ({ s, value: (need[s] * count) / needSum }));
  const result = Object.fromEntries(exact.map(({ s, value }) => [s, Math.floor(value)])) as Record<SplitName, number>;
  let left = count - splitNames.reduce((sum, s) => sum + result[s], 0);
  // Largest remainders first; ties go to the split listed first (train, valid, test).
  const byRemainder = [...exact].sort((a, b) => b.value - Math.floor(b.value) - (a.value - Math.floor(a.value)));
  for (const { s } of byRemainder) {
    if (left <= 0) break;
    result[s]++;
    left--;
  }
  return result;
}
