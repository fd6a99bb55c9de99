/** Classification metrics from probabilities: accuracy, per-class precision/recall/F1, macro-F1, log loss, confusion. */
import type { SplitMetrics } from '../../shared/train';

const epsilon = 1e-7;

/** Index of the largest value. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** Cross-entropy of one prediction: -log p[given], clipped away from 0. */
export function crossEntropy(probabilities: ArrayLike<number>, given: number): number {
  return -Math.log(Math.min(1, Math.max(epsilon, probabilities[given]!)));
}

/**
 * Metrics of `probabilities` (one row per image) against `given` labels. Classes with no support
 * and no predictions are left out of macro-F1; a class never predicted has precision 0.
 */
export function computeMetrics(classes: readonly string[], given: readonly number[], probabilities: readonly ArrayLike<number>[]): SplitMetrics {
  const k = classes.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  let loss = 0;
  for (let i = 0; i < given.length; i++) {
    const predicted = argmax(probabilities[i]!);
    confusion[given[i]!]![predicted]!++;
    if (predicted === given[i]) correct++;
    loss += crossEntropy(probabilities[i]!, given[i]!);
  }
  const perClass = classes.map((name, c) => {
    const tp = confusion[c]![c]!;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predictedCount = confusion.reduce((sum, row) => sum + row[c]!, 0);
    const precision = predictedCount > 0 ? tp / predictedCount : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { name, precision, recall, f1, support, predictedCount };
  });
  const counted = perClass.filter((c) => c.support > 0 || c.predictedCount > 0);
  return {
    count: given.length,
    accuracy: given.length > 0 ? correct / given.length : 0,
    macroF1: counted.length > 0 ? counted.reduce((s, c) => s + c.f1, 0) / counted.length : 0,
    logLoss: given.length > 0 ? loss / given.length : 0,
    perClass: perClass.map(({ name, precision, recall, f1, support }) => ({ name, precision, recall, f1, support })),
    confusion,
  };
}
