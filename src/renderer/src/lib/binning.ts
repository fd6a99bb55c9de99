/**
 * Pure helpers behind the value histogram and the "Turn into classes" dialog: bin labels and marker
 * positions along a histogram, and the dialog's fields checked against the request's own schema,
 * so that what the dialog refuses is exactly what the core would refuse, with the same words.
 */
import { regressionRequestSchemas, type BinMethod } from '../../../shared/regression';
import type { RequestInput } from '../../../shared/contract';
import { splitSeries } from './chartTheme';

/** Where a histogram's series come from: the three splits, and images without one (the charts' one list). */
export const histogramSeries = splitSeries;

/** How values can be binned, as the dialog's method select lists them. */
export const binMethods = ['quantile', 'width', 'edges'] as const satisfies readonly BinMethod['method'][];

/** Decimals that tell neighbouring edges apart: one past the narrowest bin's leading digit (at most 6). */
export function edgeDecimals(edges: readonly number[]): number {
  const widths = edges.slice(1).map((edge, i) => edge - edges[i]!).filter((w) => w > 0);
  if (widths.length === 0) return 0;
  return Math.max(0, Math.min(6, 1 - Math.floor(Math.log10(Math.min(...widths)))));
}

/** Bin labels ("12.5–15") for ascending edges: one fewer than the edges. */
export function binLabels(edges: readonly number[]): string[] {
  const decimals = edgeDecimals(edges);
  const text = (n: number) => Number(n.toFixed(decimals)).toString();
  return edges.slice(1).map((high, i) => `${text(edges[i]!)}–${text(high)}`);
}

/**
 * Where a value falls along the bins, in bins from the left edge (2.5: halfway through the third
 * bin); null outside [first edge, last edge].
 */
export function binPosition(edges: readonly number[], value: number): number | null {
  const last = edges.length - 1;
  if (last < 1 || !(value >= edges[0]! && value <= edges[last]!)) return null;
  for (let i = 0; i < last; i++) {
    const low = edges[i]!;
    const high = edges[i + 1]!;
    if (value <= high) return high > low ? i + (value - low) / (high - low) : i;
  }
  return last;
}

/** The dialog's fields as typed. */
export interface BinDraft {
  method: BinMethod['method'];
  /** Bins for quantile and width (null while the field is empty). */
  k: number | null;
  /** Inner edges, comma or space separated: "0, 12, 35, 55". */
  edgesText: string;
  prefix: string;
}

/** A request the core will accept, or the first reason it would not. */
export type BinRequest = { ok: true; input: RequestInput<'dataset:binPlan'> } | { ok: false; error: string };

/** Reads typed edges: numbers separated by commas, semicolons or spaces. */
export function parseEdges(text: string): { ok: true; edges: number[] } | { ok: false; error: string } {
  const parts = text.split(/[\s,;]+/).filter((part) => part !== '');
  const edges: number[] = [];
  for (const part of parts) {
    const value = Number(part);
    if (!Number.isFinite(value)) return { ok: false, error: `"${part}" is not a number: type edges as numbers, such as 0, 12, 35, 55` };
    edges.push(value);
  }
  return { ok: true, edges };
}

/** The request the fields describe, checked by the request's schema (its message when it fails). */
export function binRequest(draft: BinDraft): BinRequest {
  let bins: unknown;
  if (draft.method === 'edges') {
    const parsed = parseEdges(draft.edgesText);
    if (!parsed.ok) return parsed;
    bins = { method: 'edges', edges: parsed.edges };
  } else {
    if (draft.k === null || !Number.isFinite(draft.k)) return { ok: false, error: 'type the number of bins' };
    if (!Number.isInteger(draft.k)) return { ok: false, error: 'the number of bins must be a whole number' };
    bins = { method: draft.method, k: draft.k };
  }
  const input = { bins, prefix: draft.prefix.trim() || 'value' };
  const checked = regressionRequestSchemas['dataset:binPlan'].safeParse(input);
  if (!checked.success) return { ok: false, error: checked.error.issues[0]?.message ?? 'these bins are not valid' };
  return { ok: true, input: checked.data };
}
