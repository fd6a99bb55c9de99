/**
 * `loupe health` and `loupe fix-leakage`: the data-health report (duplicates, leakage, label
 * conflicts, image quality, balance) and the one-batch leakage repair, over the same core the app
 * uses. The command table (commands.ts) has checked their options and main.ts has opened the project.
 */
import { LoupeError } from '../../shared/errors';
import type { HealthReport, LeakageMode, LeakagePlan } from '../../shared/health';
import { splitNames, type JobInfo, type SplitName } from '../../shared/types';
import type { Core } from '../core';
import type { Options } from './commands';

type Print = (json: unknown, text: string) => void;

/** Options the two commands read. */
export type HealthCliOptions = Pick<Options, 'json' | 'min-per-split' | 'mode' | 'lock' | 'dry-run'>;

/** The report, recomputed first (as a job, progress on stderr) when it is stale or features are missing. */
export async function freshReport(core: Core, minPerSplit: number, quiet: boolean): Promise<HealthReport> {
  const report = await core.call('health:report', { minPerSplit });
  if (!report.stale && report.featuresMissing === 0 && !report.computing) return report;
  const { jobId } = await core.call('health:run', {});
  let last = 0;
  const unsubscribe = quiet
    ? () => {}
    : core.subscribe((event, payload) => {
        if (event !== 'jobs:update') return;
        const job = payload as JobInfo;
        if (job.id !== jobId || !job.progress || job.state !== 'running' || Date.now() - last < 1000) return;
        last = Date.now();
        process.stderr.write(`  ${job.progress.step} ${job.progress.current}/${job.progress.total}\n`);
      });
  const stop = () => core.jobs.cancel(jobId);
  process.once('SIGINT', stop);
  try {
    const job = await core.jobs.finished(jobId);
    if (job.state === 'failed') throw new LoupeError(job.error?.code ?? 'INTERNAL', job.error?.message ?? 'the health checks failed', job.error?.details);
    if (job.state !== 'done') throw new LoupeError('CANCELLED', 'The health checks were cancelled; run loupe health again to finish them.');
  } finally {
    process.off('SIGINT', stop);
    unsubscribe();
  }
  return core.call('health:report', { minPerSplit });
}

/** What `loupe health --json` prints: the counts at the top level of each part, the detail beside them. */
export function healthJson(report: HealthReport) {
  return {
    version: report.version,
    images: report.images,
    stale: report.stale,
    duplicates: report.duplicates,
    quality: { ...report.quality.counts },
    qualityChecks: report.quality.checks,
    colourDataset: report.quality.colourDataset,
    balance: report.balance,
    thresholds: report.thresholds,
    elapsedMs: report.elapsedMs,
  };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The report as a person reads it. */
export function healthText(report: HealthReport): string {
  const d = report.duplicates;
  const lines = [`Health of ${plural(report.images, 'image')} (version ${report.version})`, '', 'Duplicates'];
  lines.push(`  exact groups     ${d.exactGroups} (${d.exactExtraImages} extra ${d.exactExtraImages === 1 ? 'copy' : 'copies'})`);
  lines.push(`  near groups      ${d.nearGroups} (${d.verifiedPairs} of ${d.candidatePairs} candidate pairs verified)`);
  lines.push(`  across splits    ${d.crossSplitGroups}${d.crossSplitGroups > 0 ? '  (fix: loupe fix-leakage --dry-run, then without --dry-run)' : ''}`);
  for (const pair of d.crossSplitBySplitPair) {
    lines.push(`    ${`${pair.a}/${pair.b}`.padEnd(12)} ${plural(pair.groups, 'group')}, ${plural(pair.images, 'image')}`);
  }
  lines.push(`  label conflicts  ${d.labelConflicts}`);
  if (d.dismissed > 0) lines.push(`  dismissed        ${d.dismissed} (marked "not duplicates")`);
  lines.push('', 'Quality');
  const width = Math.max(...report.quality.checks.map((c) => c.check.length));
  for (const check of report.quality.checks) {
    lines.push(`  ${check.check.padEnd(width)}  ${String(check.count).padStart(5)}  ${check.threshold === null ? `off: ${check.rule}` : check.rule}`);
  }
  const b = report.balance;
  lines.push('', 'Balance');
  lines.push(
    b.imbalanceRatio === null
      ? '  fewer than two classes: no imbalance ratio'
      : `  imbalance ratio ${b.imbalanceRatio.toFixed(1)} (largest class over smallest); smallest: ${b.smallest.map((s) => `${s.name} ${s.total}`).join(', ')}`,
  );
  for (const u of b.underMinimum) lines.push(`  ${u.split}: ${u.className} has ${u.count} (under ${b.minPerSplit})`);
  for (const m of b.missingFromSplit) lines.push(`  ${m.split}: no ${m.className}`);
  for (const mix of b.mix) lines.push(`  ${mix.sentence}`);
  if (report.thresholds.length > 0) {
    lines.push('', 'Thresholds');
    const nameWidth = Math.max(...report.thresholds.map((t) => t.name.length));
    for (const t of report.thresholds) lines.push(`  ${t.name.padEnd(nameWidth)}  ${String(t.value).padStart(6)}  ${t.description}`);
  }
  return lines.join('\n');
}

function minPerSplitOf(options: HealthCliOptions): number {
  if (options['min-per-split'] === undefined) return 10;
  const n = Number(options['min-per-split']);
  if (!Number.isInteger(n) || n < 1) throw new LoupeError('VALIDATION', '--min-per-split must be a whole number, 1 or more.');
  return n;
}

/** --lock train --lock valid, or --lock train,valid. */
export function lockedSplitsOf(options: Pick<Options, 'lock'>): SplitName[] {
  const locked = (options.lock ?? []).flatMap((l) => l.split(',')).map((l) => l.trim());
  for (const split of locked) {
    if (!(splitNames as readonly string[]).includes(split)) throw new LoupeError('VALIDATION', `--lock takes train, valid or test, not "${split}"`);
  }
  return [...new Set(locked)] as SplitName[];
}

/** `loupe health --project P [--min-per-split N] [--json]`. */
export async function healthCommand(core: Core, options: HealthCliOptions, print: Print): Promise<number> {
  const report = await freshReport(core, minPerSplitOf(options), options.json === true);
  print(healthJson(report), healthText(report));
  return 0;
}

/** The plan as a person reads it: each image that moves, by group. */
export function planText(plan: LeakagePlan, applied: boolean): string {
  if (plan.groups === 0) return 'No duplicate group crosses splits: nothing to fix.';
  const verb = plan.mode === 'move' ? (applied ? 'Moved' : 'Would move') : applied ? 'Removed' : 'Would remove';
  const lines = [`${verb} ${plural(plan.moves.length, 'image')} of ${plural(plan.groups, 'leaking group')}: ${plan.rule}`];
  for (const move of plan.moves) lines.push(`  ${move.path}  ${move.from} -> ${move.to ?? 'removed'}`);
  return lines.join('\n');
}

/** `loupe fix-leakage --project P [--mode move|remove] [--lock SPLIT] [--dry-run] [--json]`: one undoable batch. */
export async function fixLeakageCommand(core: Core, options: HealthCliOptions, print: Print): Promise<number> {
  const mode = (options.mode ?? 'move') as LeakageMode;
  const locked = lockedSplitsOf(options);
  // The plan reads the duplicate groups: make sure they are for the current data.
  await freshReport(core, 10, options.json === true);
  const plan = await core.call('health:leakagePlan', { mode, locked });
  if (options['dry-run']) {
    print(plan, planText(plan, false));
    return 0;
  }
  if (plan.groups === 0) {
    print({ plan, result: null }, planText(plan, true));
    return 0;
  }
  const result = await core.call('health:fixLeakage', { mode, locked });
  print({ plan, result }, `${planText(plan, true)}\n${result.description} (version ${result.version}; loupe undo brings it back)`);
  return 0;
}
