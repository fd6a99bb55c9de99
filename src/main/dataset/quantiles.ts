/**
 * Quantile bins of numeric targets: the one rule that stratified splits (split.ts, rebalance.ts),
 * the split report and binning into classes (binning.ts) share, so "the same bins" means the same
 * thing everywhere.
 */

/** Value strata of stratified splits: deciles, fine enough to keep each split's spread and coarse enough to fill. */
export const valueStrataCount = 10;

/**
 * The k - 1 inner edges that cut `sorted` (ascending) into k bins of (about) equal counts: edge i
 * is the value at rank floor(i * n / k). A bin holds values >= its lower edge and < the next one,
 * so equal values always share a bin: with ties the counts are as equal as the ties allow, and
 * edges that coincide leave the bins between them empty. No values, no edges.
 */
export function quantileEdges(sorted: readonly number[], k: number): number[] {
  if (sorted.length === 0) return [];
  return Array.from({ length: k - 1 }, (_, i) => sorted[Math.floor(((i + 1) * sorted.length) / k)]!);
}

/** The bin of `value` among ascending inner edges: how many edges are <= value (0 .. edges.length). */
export function binIndex(edges: readonly number[], value: number): number {
  // Binary search: the first edge above the value.
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (edges[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The stratum of each value for stratified splits: its quantile bin (deciles) among `values`.
 * Returns the function that names a value's stratum ("v0" .. "v9").
 */
export function valueStrata(values: readonly number[], k = valueStrataCount): (value: number) => string {
  const edges = quantileEdges([...values].sort((a, b) => a - b), k);
  return (value) => `v${binIndex(edges, value)}`;
}

/** The quantile bin (0 .. k-1) of each of `values` among themselves: the strata of k-fold splits of regression targets. */
export function quantileBins(values: readonly number[], k: number): number[] {
  const edges = quantileEdges([...values].sort((a, b) => a - b), k);
  return values.map((value) => binIndex(edges, value));
}
