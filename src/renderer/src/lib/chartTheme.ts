/**
 * What the charts (chart.js, which draws on a canvas and cannot read CSS variables by itself) take
 * from the app's theme: a CSS variable's value, and the colour of each split's series.
 */

/** A CSS custom property of the document, or `fallback` when it is unset. */
export function cssVar(name: string, fallback: string): string {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

/** Series a chart splits its data into: the three splits, and images without one, in drawing order. */
export const splitSeries = ['train', 'valid', 'test', 'none'] as const;
/** One of splitSeries. */
export type SplitSeries = (typeof splitSeries)[number];

/** The theme variable (and its fallback) of each split series' colour. */
const splitColourVars: Record<SplitSeries, [string, string]> = {
  train: ['--split-train', '#5b9dff'],
  valid: ['--split-valid', '#f0b44c'],
  test: ['--split-test', '#c678dd'],
  none: ['--text-faint', '#6b717c'],
};

/** The colour of a split series now (read when a chart draws, so it follows the theme). */
export function splitColour(series: SplitSeries): string {
  const [name, fallback] = splitColourVars[series];
  return cssVar(name, fallback);
}
