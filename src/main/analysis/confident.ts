/**
 * Likely label errors by confident learning (Northcutt et al., 2021), on out-of-sample probabilities:
 *  1. per-class thresholds t_j: the mean probability of class j over images labelled j;
 *  2. the confident joint C[i][j]: images labelled i whose probability of j reaches t_j (the most
 *     probable such j when several do), calibrated so each row sums to the count of label i;
 *  3. prune by noise rate: for each off-diagonal cell, the C[i][j] images labelled i with the
 *     largest margin p_j - p_i are flagged.
 * Flags are ranked by how confidently another class is predicted: max_{j != given} p_j - p_given.
 */
import { argmax } from '../train/metrics';

/** One flagged image: its index in the input, the class suggested, and the ranking score. */
export interface LabelIssue {
  index: number;
  given: number;
  suggested: number;
  /** max other probability minus the given class's probability; higher is more likely wrong. */
  score: number;
}

/** Result of confident learning: flags, ranked, and the joint it came from. */
export interface ConfidentLearningResult {
  issues: LabelIssue[];
  thresholds: number[];
  confidentJoint: number[][];
  /** Estimated share of labels that are wrong. */
  noiseRate: number;
}

/** Finds likely label errors among `given` labels from out-of-sample `probabilities`. */
export function findLabelIssues(given: readonly number[], probabilities: readonly ArrayLike<number>[], classCount: number): ConfidentLearningResult {
  const n = given.length;
  const k = classCount;
  const sums = new Array<number>(k).fill(0);
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < n; i++) {
    sums[given[i]!]! += probabilities[i]![given[i]!]!;
    counts[given[i]!]!++;
  }
  const thresholds = sums.map((s, j) => (counts[j]! > 0 ? s / counts[j]! : 1));
  const joint = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < n; i++) {
    const p = probabilities[i]!;
    let best = -1;
    for (let j = 0; j < k; j++) {
      if (p[j]! >= thresholds[j]! - 1e-12 && (best < 0 || p[j]! > p[best]!)) best = j;
    }
    if (best >= 0) joint[given[i]!]![best]!++;
  }
  // Calibrate: each row sums to the number of images with that label.
  for (let i = 0; i < k; i++) {
    const rowSum = joint[i]!.reduce((a, b) => a + b, 0);
    if (rowSum > 0) for (let j = 0; j < k; j++) joint[i]![j] = (joint[i]![j]! / rowSum) * counts[i]!;
  }
  const flagged = new Map<number, LabelIssue>();
  for (let i = 0; i < k; i++) {
    const members: number[] = [];
    for (let m = 0; m < n; m++) if (given[m] === i) members.push(m);
    for (let j = 0; j < k; j++) {
      if (j === i) continue;
      const remove = Math.round(joint[i]![j]!);
      if (remove <= 0) continue;
      const ranked = members
        .map((m) => ({ m, margin: probabilities[m]![j]! - probabilities[m]![i]! }))
        .sort((a, b) => b.margin - a.margin)
        .slice(0, remove);
      for (const { m } of ranked) {
        const p = probabilities[m]!;
        if (argmax(p) === i) continue; // the model agrees with the label: not an error
        const score = maxOther(p, i) - p[i]!;
        const existing = flagged.get(m);
        if (!existing || existing.score < score) flagged.set(m, { index: m, given: i, suggested: argmaxOther(p, i), score });
      }
    }
  }
  let offDiagonal = 0;
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) if (i !== j) offDiagonal += joint[i]![j]!;
  return {
    issues: [...flagged.values()].sort((a, b) => b.score - a.score),
    thresholds,
    confidentJoint: joint,
    noiseRate: n > 0 ? offDiagonal / n : 0,
  };
}

function maxOther(p: ArrayLike<number>, skip: number): number {
  let best = -Infinity;
  for (let j = 0; j < p.length; j++) if (j !== skip && p[j]! > best) best = p[j]!;
  return best;
}

function argmaxOther(p: ArrayLike<number>, skip: number): number {
  let best = -1;
  for (let j = 0; j < p.length; j++) if (j !== skip && (best < 0 || p[j]! > p[best]!)) best = j;
  return best;
}
