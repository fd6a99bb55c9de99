/**
 * `loupe bin` and `loupe unbin`: numeric values into classes and back, over the same core as the
 * app's "Turn into classes". The command table (commands.ts) has checked the options, and main.ts
 * has opened the project.
 */
import { LoupeError } from '../../shared/errors';
import type { BinMethod, BinPlan } from '../../shared/regression';
import type { Core } from '../core';
import type { Options } from './commands';

/** Options `loupe bin` reads. */
export type BinCliOptions = Pick<Options, 'json' | 'quantiles' | 'width' | 'edges' | 'prefix' | 'dry-run'>;

type Print = (json: unknown, text: string) => void;

/** The class names start with this unless --prefix says otherwise (the request's own default). */
const defaultPrefix = 'value';

function binCount(text: string, option: string): number {
  const k = Number(text);
  if (!Number.isInteger(k) || k < 2 || k > 50) throw new LoupeError('VALIDATION', `--${option} must be a whole number of bins from 2 to 50 (got "${text}").`, { option });
  return k;
}

/** The one binning method the options name: --quantiles K, --width K or --edges A,B,… */
export function binMethodOf(options: BinCliOptions): BinMethod {
  const given = (['quantiles', 'width', 'edges'] as const).filter((o) => options[o] !== undefined);
  if (given.length !== 1) {
    throw new LoupeError(
      'VALIDATION',
      `bin needs exactly one of --quantiles K (equal counts), --width K (equal widths) or --edges A,B,… (inner edges, ascending)${given.length > 1 ? `, not ${given.map((o) => `--${o}`).join(' and ')}` : ''}.`,
      { options: given },
    );
  }
  if (options.quantiles !== undefined) return { method: 'quantile', k: binCount(options.quantiles, 'quantiles') };
  if (options.width !== undefined) return { method: 'width', k: binCount(options.width, 'width') };
  const parts = options.edges!.split(',').map((p) => p.trim());
  const edges = parts.map(Number);
  if (parts.some((p) => p.length === 0) || edges.some((e) => !Number.isFinite(e))) {
    throw new LoupeError('VALIDATION', `--edges needs numbers separated by commas, for example 0,12,35,55 (got "${options.edges}").`, { option: 'edges' });
  }
  if (edges.some((e, i) => i > 0 && e <= edges[i - 1]!)) {
    throw new LoupeError('VALIDATION', `--edges must be strictly ascending (got "${options.edges}").`, { option: 'edges' });
  }
  return { method: 'edges', edges };
}

/** The plan as a table: one line per class with its counts per split. */
function planText(plan: BinPlan): string {
  const width = Math.max(5, ...plan.bins.map((b) => b.name.length));
  const row = (name: string, train: number | string, valid: number | string, test: number | string, none: number | string, total: number | string) =>
    `${name.padEnd(width)}  ${[train, valid, test, none, total].map((n) => String(n).padStart(7)).join('  ')}`;
  return [
    row('class', 'train', 'valid', 'test', 'none', 'total'),
    ...plan.bins.map((b) => row(b.name, b.counts.train, b.counts.valid, b.counts.test, b.counts.none, b.total)),
    '',
    `${plan.labelled} image(s) get a class` +
      (plan.relabelled > 0 ? `, ${plan.relabelled} of them replacing the class they have` : '') +
      (plan.withoutValue > 0 ? `; ${plan.withoutValue} without a value keep theirs` : ''),
  ].join('\n');
}

/**
 * `loupe bin --project P (--quantiles K | --width K | --edges A,B,…) [--prefix NAME] [--dry-run]`:
 * prints the plan; without --dry-run applies it as one undoable change. --json: `{ dryRun, plan }`,
 * plus `result` (the ChangeResult) when applied.
 */
export async function binCommand(core: Core, options: BinCliOptions, print: Print): Promise<number> {
  const request = { bins: binMethodOf(options), prefix: options.prefix ?? defaultPrefix };
  const plan = await core.call('dataset:binPlan', request);
  if (options['dry-run']) {
    print({ dryRun: true, plan }, `${planText(plan)}\nDry run: nothing changed.`);
    return 0;
  }
  const result = await core.call('dataset:bin', request);
  print({ dryRun: false, plan, result }, `${planText(plan)}\n${result.description} (version ${result.version}); loupe undo brings the values back.`);
  return 0;
}

/** `loupe unbin --project P`: clears the class of every image that has a value, as one undoable change. */
export async function unbinCommand(core: Core, print: Print): Promise<number> {
  const result = await core.call('dataset:unbin', {});
  print(result, `${result.description} (version ${result.version})`);
  return 0;
}
