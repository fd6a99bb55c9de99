/**
 * The label-error signals of one run, computed from its out-of-sample probabilities, its embedding
 * neighbours and (where they exist) other runs' predictions and conflicting near-duplicates. Pure:
 * arrays in, arrays out; issues.ts reads the inputs from the store and pages the result.
 *
 * Order of work: (1) one temperature fitted on the train+valid rows' probabilities (out-of-sample
 * only; T = 1 without such rows) and applied to every row; (2) per row: self-confidence 1 - p(given), normalised margin
 * (max other p - p(given) + 1) / 2, kNN disagreement (share of the k nearest labelled images
 * labelled otherwise), ensemble disagreement (share of other runs predicting another class),
 * duplicate conflict; (3) per split group, train+valid apart from test, never mixed: confident
 * learning membership, the label posterior (fuse.ts), the noise rate and each row's P(wrong)
 * (noise.ts). The fused score is 1 - posterior(given); the queue orders by P(wrong) then by it.
 */
import type { LabelSignal } from '../../shared/train';
import { applyTemperature, fitTemperature, type Calibration } from './calibrate';
import { findLabelIssues } from './confident';
import { labelPosterior } from './fuse';
import { estimateNoise } from './noise';

/** The two groups signals are computed in: train and valid rows together, test rows on their own. */
export type SplitGroup = 'trainValid' | 'test';

/** What the signals are computed from. Rows are the run's labelled out-of-sample predictions. */
export interface SignalInput {
  classCount: number;
  given: readonly number[];
  probabilities: readonly ArrayLike<number>[];
  group: readonly SplitGroup[];
  /** Per row, the row indexes of its nearest labelled rows, nearest first; null without embeddings. */
  neighbours: ReadonlyArray<readonly number[]> | null;
  /** Per row, other runs' out-of-sample probabilities in this run's class order (empty: none); null: no other run. */
  ensemble: ReadonlyArray<ReadonlyArray<ArrayLike<number>>> | null;
  /** Per row, whether a near-duplicate carries another label; null: no duplicate check available. */
  duplicate: readonly boolean[] | null;
}

/** Signals of every row, and what the groups estimate. */
export interface SignalResult {
  calibration: Calibration;
  /** Calibrated probabilities (the model's, before the neighbours). */
  calibrated: Float64Array[];
  selfConfidence: Float64Array;
  margin: Float64Array;
  confident: boolean[];
  knn: Float64Array | null;
  ensemble: Float64Array | null;
  duplicate: boolean[];
  /** 1 - posterior(given). */
  fused: Float64Array;
  pWrong: Float64Array;
  /** The class the evidence favours most among the others. */
  suggested: Int32Array;
  available: LabelSignal[];
  groups: Record<SplitGroup, { rows: number; noiseRate: number; confidentLearningRate: number }>;
}

/**
 * What the signals need before the duplicate evidence: everything but the fusion. The expensive
 * part (the temperature fit, the neighbours' labels, the ensemble, confident learning), computed once
 * per run; a change of the conflicting-duplicate set only reruns finishSignals.
 */
export interface PreparedSignals {
  classCount: number;
  given: readonly number[];
  group: readonly SplitGroup[];
  calibration: Calibration;
  calibrated: Float64Array[];
  selfConfidence: Float64Array;
  margin: Float64Array;
  knn: Float64Array | null;
  ensemble: Float64Array | null;
  /** The model's probabilities the posterior starts from: calibrated, averaged with the ensemble's. */
  model: ArrayLike<number>[];
  neighbourLabels: number[][] | null;
  confident: boolean[];
  confidentLearningRate: Record<SplitGroup, number>;
}

/** Computes every signal (see the module comment). */
export function computeSignals(input: SignalInput): SignalResult {
  return finishSignals(prepareSignals(input), input.duplicate);
}

/** Steps (1) and (2) of the module comment, and confident learning per group: all but the duplicate evidence. */
export function prepareSignals(input: Omit<SignalInput, 'duplicate'>): PreparedSignals {
  const { classCount: k, given, group } = input;
  const n = given.length;
  // Fitted on train+valid only: without such rows T stays 1 (the test rows are never fitted on).
  const fitOn = indexesOf(group, 'trainValid');
  const calibration = fitTemperature(
    fitOn.map((i) => input.probabilities[i]!),
    fitOn.map((i) => given[i]!),
  );
  const calibrated = applyTemperature(input.probabilities, calibration.temperature);
  const selfConfidence = new Float64Array(n);
  const margin = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const p = calibrated[i]!;
    const g = given[i]!;
    let other = 0;
    for (let j = 0; j < k; j++) if (j !== g && p[j]! > other) other = p[j]!;
    selfConfidence[i] = 1 - p[g]!;
    margin[i] = (other - p[g]! + 1) / 2;
  }
  const neighbourLabels = input.neighbours?.map((list) => list.map((j) => given[j]!)) ?? null;
  const knn = neighbourLabels ? Float64Array.from(neighbourLabels, (labels, i) => (labels.length > 0 ? labels.filter((l) => l !== given[i]).length / labels.length : 0)) : null;
  // Other runs' predictions: the share predicting another class, and their average with this run's.
  let ensemble: Float64Array | null = null;
  let model: ArrayLike<number>[] = calibrated;
  if (input.ensemble) {
    ensemble = new Float64Array(n);
    model = calibrated.map((p, i) => {
      const members = input.ensemble![i]!;
      if (members.length === 0) return p;
      let disagree = 0;
      const mean = Float64Array.from(p);
      for (const q of members) {
        let best = 0;
        for (let j = 1; j < k; j++) if (q[j]! > q[best]!) best = j;
        if (best !== given[i]) disagree++;
        for (let j = 0; j < k; j++) mean[j]! += q[j]!;
      }
      ensemble![i] = disagree / members.length;
      for (let j = 0; j < k; j++) mean[j]! /= members.length + 1;
      return mean;
    });
  }
  const confident = new Array<boolean>(n).fill(false);
  const confidentLearningRate = {} as Record<SplitGroup, number>;
  for (const name of ['trainValid', 'test'] as const) {
    const rows = indexesOf(group, name);
    const cl = findLabelIssues(
      rows.map((i) => given[i]!),
      rows.map((i) => calibrated[i]!),
      k,
    );
    for (const issue of cl.issues) confident[rows[issue.index]!] = true;
    confidentLearningRate[name] = cl.noiseRate;
  }
  return { classCount: k, given, group, calibration, calibrated, selfConfidence, margin, knn, ensemble, model, neighbourLabels, confident, confidentLearningRate };
}

/** Step (3) with the duplicate evidence (null: no duplicate check): the posterior, the fused score, the noise rate and P(wrong) per group. */
export function finishSignals(prepared: PreparedSignals, duplicates: readonly boolean[] | null): SignalResult {
  const { classCount: k, given, group, model, neighbourLabels } = prepared;
  const n = given.length;
  const duplicate = duplicates ? [...duplicates] : new Array<boolean>(n).fill(false);
  const penalty = Float64Array.from(duplicate, (d) => (d ? 0.5 : 1));
  const posterior = labelPosterior(model, neighbourLabels, given, k, penalty);
  const fused = Float64Array.from(posterior, (p, i) => 1 - p[given[i]!]!);
  const suggested = Int32Array.from(posterior, (p, i) => {
    let best = -1;
    for (let j = 0; j < k; j++) if (j !== given[i] && (best < 0 || p[j]! > p[best]!)) best = j;
    return best;
  });
  const pWrong = new Float64Array(n);
  const groups = {} as SignalResult['groups'];
  for (const name of ['trainValid', 'test'] as const) {
    const rows = indexesOf(group, name);
    const noise = estimateNoise(
      rows.map((i) => 1 - fused[i]!),
      k,
    );
    rows.forEach((i, r) => (pWrong[i] = noise.pWrong[r]!));
    groups[name] = { rows: rows.length, noiseRate: noise.rate, confidentLearningRate: prepared.confidentLearningRate[name] };
  }
  const available: LabelSignal[] = ['selfConfidence', 'margin', 'confident'];
  if (prepared.knn) available.push('knn');
  if (prepared.ensemble) available.push('ensemble');
  if (duplicates) available.push('duplicate');
  const { calibration, calibrated, selfConfidence, margin, confident, knn, ensemble } = prepared;
  return { calibration, calibrated, selfConfidence, margin, confident, knn, ensemble, duplicate, fused, pWrong, suggested, available, groups };
}

function indexesOf(group: readonly SplitGroup[], name: SplitGroup): number[] {
  const out: number[] = [];
  group.forEach((g, i) => g === name && out.push(i));
  return out;
}
