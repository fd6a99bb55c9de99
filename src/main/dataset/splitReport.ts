/**
 * The class x split table and what is wrong with it: a class missing from a split, a split whose
 * class mix differs from train's (chi-square test of homogeneity), too few images of a class to
 * measure it, an empty split, and verified duplicate groups that cross splits (leakage): the
 * health report's count per split pair, dismissed groups left out, so Splits and Health agree.
 * A regression project (values, no classes) is measured by its values instead: images with a value
 * per split, and each split's mix of value deciles (quantiles.ts, the strata splits are dealt by)
 * tested against train's; there are no class warnings to give.
 */
import type { SplitReport, SplitWarning } from '../../shared/curation';
import type { SplitName } from '../../shared/types';
import { splitNames } from '../../shared/types';
import { assertNever } from '../../shared/assertNever';
import type { Db } from '../store/db';
import { projectTask } from '../store/project';
import { sql } from '../store/statements';
import { activeValues } from '../store/values';
import { readHealth } from '../health/service';
import { valueStrata } from './quantiles';

/** Active images per visible class and split. */
export function classSplitTable(db: Db): SplitReport['classes'] {
  const rows = sql(
    db,
    `SELECT c.name, s.split, count(i.id) AS n
       FROM classes c
       LEFT JOIN labels l ON l.class_id = c.id
       LEFT JOIN images i ON i.id = l.image_id AND i.status = 'active'
       LEFT JOIN splits s ON s.image_id = i.id
      WHERE c.merged_into IS NULL AND c.deleted = 0
      GROUP BY c.name, s.split ORDER BY c.name`,
  ).all() as { name: string; split: SplitName | null; n: number }[];
  const table = new Map<string, SplitReport['classes'][number]>();
  for (const row of rows) {
    const entry = table.get(row.name) ?? { name: row.name, counts: { train: 0, valid: 0, test: 0 }, total: 0 };
    if (row.split) {
      entry.counts[row.split] += row.n;
      entry.total += row.n;
    }
    table.set(row.name, entry);
  }
  return [...table.values()];
}

/** The report, with warnings for `pThreshold` and `minPerClass` (the class checks; a regression project's are by value). */
export function splitReport(db: Db, pThreshold: number, minPerClass: number): SplitReport {
  const task = projectTask(db);
  switch (task) {
    case null:
    case 'classification':
      return classReport(db, pThreshold, minPerClass);
    case 'regression':
      return valueReport(db, pThreshold, minPerClass);
    default:
      return assertNever(task, 'task');
  }
}

/** A split with no images while others have some. */
function emptySplitWarnings(totals: Record<SplitName, number>): SplitWarning[] {
  const all = totals.train + totals.valid + totals.test;
  return splitNames
    .filter((split) => all > 0 && totals[split] === 0)
    .map((split) => ({ kind: 'empty-split', split, className: null, message: `${split} has no images.` }));
}

/** The class x split checks. */
function classReport(db: Db, pThreshold: number, minPerClass: number): SplitReport {
  const classes = classSplitTable(db);
  const totals: Record<SplitName, number> = { train: 0, valid: 0, test: 0 };
  for (const c of classes) for (const s of splitNames) totals[s] += c.counts[s];
  const warnings: SplitWarning[] = emptySplitWarnings(totals);
  const tests: SplitReport['tests'] = [];
  for (const c of classes) {
    if (c.total === 0) continue;
    for (const split of splitNames) {
      if (totals[split] > 0 && c.counts[split] === 0) {
        warnings.push({ kind: 'missing-class', split, className: c.name, message: `${c.name} has no images in ${split}.` });
      } else if (split !== 'train' && c.counts[split] > 0 && c.counts[split] < minPerClass) {
        const step = Math.round(100 / c.counts[split]);
        warnings.push({
          kind: 'too-small',
          split,
          className: c.name,
          message: `${split} has ${c.counts[split]} image(s) of ${c.name}, fewer than ${minPerClass}: its accuracy there moves in steps of ${step}%.`,
        });
      }
    }
  }
  for (const split of ['valid', 'test'] as const) {
    const test = chiSquareHomogeneity(
      classes.map((c) => c.counts.train),
      classes.map((c) => c.counts[split]),
    );
    tests.push({ split, ...test });
    if (test.pValue !== null && test.pValue < pThreshold) {
      warnings.push({
        kind: 'distribution',
        split,
        className: null,
        message: `${split}'s class mix differs from train's (chi-square test, p = ${formatP(test.pValue)} < ${pThreshold}).`,
      });
    }
  }
  warnings.push(...leakageWarnings(db));
  return { classes, totals, tests, pThreshold, minPerClass, warnings };
}

/**
 * A regression project's checks: images with a value per split, an empty split, each of valid's and
 * test's counts over the value deciles against train's (chi-square), and leakage.
 */
function valueReport(db: Db, pThreshold: number, minPerClass: number): SplitReport {
  const rows = activeValues(db);
  const stratumOf = valueStrata(rows.map((r) => r.value));
  const strata = [...new Set(rows.map((r) => stratumOf(r.value)))].sort();
  const index = new Map(strata.map((key, i) => [key, i]));
  const counts: Record<SplitName, number[]> = { train: strata.map(() => 0), valid: strata.map(() => 0), test: strata.map(() => 0) };
  const totals: Record<SplitName, number> = { train: 0, valid: 0, test: 0 };
  for (const r of rows) {
    if (!r.split) continue;
    counts[r.split][index.get(stratumOf(r.value))!]!++;
    totals[r.split]++;
  }
  const warnings = emptySplitWarnings(totals);
  const tests: SplitReport['tests'] = [];
  for (const split of ['valid', 'test'] as const) {
    const test = chiSquareHomogeneity(counts.train, counts[split]);
    tests.push({ split, ...test });
    if (test.pValue !== null && test.pValue < pThreshold) {
      warnings.push({
        kind: 'distribution',
        split,
        className: null,
        message: `${split}'s values are distributed unlike train's (chi-square test over value deciles, p = ${formatP(test.pValue)} < ${pThreshold}).`,
      });
    }
  }
  warnings.push(...leakageWarnings(db));
  return { classes: classSplitTable(db), totals, tests, pThreshold, minPerClass, warnings };
}

/** Duplicate groups across splits, from the stored health results as of now (never the duplicate finder); none before the first run. */
function leakageWarnings(db: Db): SplitWarning[] {
  const warnings: SplitWarning[] = [];
  for (const { a, b, groups: crossing } of readHealth(db)?.report().duplicates.crossSplitBySplitPair ?? []) {
    if (crossing > 0) {
      warnings.push({
        kind: 'leakage',
        split: b,
        className: null,
        message: `${crossing} duplicate group${crossing === 1 ? '' : 's'} lie in both ${a} and ${b}: ${b} scores images the model has seen. Fix it in Health.`,
      });
    }
  }
  return warnings;
}

function formatP(p: number): string {
  return p < 0.0001 ? p.toExponential(1) : p.toFixed(4);
}

/**
 * Chi-square test of homogeneity for two rows of counts over the same categories. Categories empty
 * in both rows are dropped; with fewer than two categories or an empty row there is no test.
 */
export function chiSquareHomogeneity(
  a: number[],
  b: number[],
): { statistic: number; degreesOfFreedom: number; pValue: number | null } {
  const pairs = a.map((x, i) => [x, b[i]!] as const).filter(([x, y]) => x + y > 0);
  const totalA = pairs.reduce((s, [x]) => s + x, 0);
  const totalB = pairs.reduce((s, [, y]) => s + y, 0);
  const n = totalA + totalB;
  if (pairs.length < 2 || totalA === 0 || totalB === 0) return { statistic: 0, degreesOfFreedom: 0, pValue: null };
  let statistic = 0;
  for (const [x, y] of pairs) {
    const column = x + y;
    const expectedA = (totalA * column) / n;
    const expectedB = (totalB * column) / n;
    statistic += (x - expectedA) ** 2 / expectedA + (y - expectedB) ** 2 / expectedB;
  }
  const degreesOfFreedom = pairs.length - 1;
  return { statistic, degreesOfFreedom, pValue: chiSquareSurvival(statistic, degreesOfFreedom) };
}

/** P(X >= x) for a chi-square variable with k degrees of freedom: Q(k/2, x/2). */
export function chiSquareSurvival(x: number, k: number): number {
  if (x <= 0) return 1;
  return regularizedGammaQ(k / 2, x / 2);
}

function regularizedGammaQ(a: number, x: number): number {
  if (x < a + 1) {
    // Series for P, then Q = 1 - P.
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 500; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return Math.max(0, 1 - sum * Math.exp(-x + a * Math.log(x) - logGamma(a)));
  }
  // Continued fraction for Q (modified Lentz).
  let b = x + 1 - a;
  let c = 1 / 1e-300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 500; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
}

/** ln Γ(z), Lanczos approximation (g = 7). */
function logGamma(z: number): number {
  const g = 7;
  const coefficients = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - logGamma(1 - z);
  const zz = z - 1;
  let x = coefficients[0]!;
  for (let i = 1; i < g + 2; i++) x += coefficients[i]! / (zz + i);
  const t = zz + g + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (zz + 0.5) * Math.log(t) - t + Math.log(x);
}
