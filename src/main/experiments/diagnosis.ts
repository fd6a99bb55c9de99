/**
 * Bias/variance diagnosis of one run: the goal, train (in-sample), k-fold, valid and test errors
 * side by side, the three gaps named, a verdict in plain words, and next steps in the order
 * practitioners work through them (underfitting, overfitting, distribution shift, rebalance), each
 * with an action the UI maps to a button. Pure: the handler passes the run and the goal.
 */
import { assertNever } from '../../shared/assertNever';
import type { Diagnosis, DiagnosisGaps, DiagnosisVerdict, ErrorFigures, NextStep, ProjectGoal, StepCategory } from '../../shared/experiments';
import type { RunMetrics, SplitMetrics, TrainConfig } from '../../shared/train';

/** A gap smaller than this (one percentage point) is never called a problem. */
export const minimumGap = 0.01;
/** Largest/smallest class share of train above this asks for rebalancing. */
export const imbalanceRatio = 3;

/** What a diagnosis reads of a run. */
export interface DiagnosisInput {
  runId: number;
  config: TrainConfig;
  metrics: RunMetrics | null;
  goal: ProjectGoal | null;
}

const errorOf = (m: SplitMetrics | null | undefined) => (m && m.count > 0 ? 1 - m.accuracy : null);
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** Two standard errors of an error rate measured on n images (the noise a gap must beat). */
function noise(error: number, n: number): number {
  if (n <= 0) return 0;
  return 2 * Math.sqrt(Math.max(error * (1 - error), 1 / n) / n);
}

/** Diagnoses one run. */
export function diagnose(input: DiagnosisInput): Diagnosis {
  const { metrics, goal, runId } = input;
  const notes: string[] = [];
  const inSample = errorOf(metrics?.trainInSample);
  const kFold = errorOf(metrics?.train);
  const valid = errorOf(metrics?.valid);
  const test = errorOf(metrics?.test);
  const errors: ErrorFigures = { goal: goal?.targetError ?? null, human: goal?.humanError ?? null, train: inSample, trainKFold: kFold, valid, test };
  const kFoldNote =
    'The k-fold error predicts each train image with a model that did not see it: an out-of-sample estimate, like valid. ' +
    'The train error is in-sample (the final model on its own training images) and is lower; the gap between train and valid is the variance.';
  // The train side: in-sample, or (flagged) the k-fold error when the run has no in-sample figure.
  let train = inSample;
  if (train === null && kFold !== null) {
    train = kFold;
    notes.push('This run has no in-sample train error; the k-fold error stands in, so the variance shown is an underestimate.');
  }
  const reference = goal?.targetError ?? goal?.humanError ?? 0;
  if (!goal) notes.push('No goal set: the avoidable bias is measured against 0% error. Set a goal (loupe goal --error 0.05) to judge it against what you need.');
  else if (goal.humanError !== null && goal.humanError > goal.targetError) notes.push(`The goal (${pct(goal.targetError)}) is below human-level error (${pct(goal.humanError)}): it may not be reachable.`);
  const gaps: DiagnosisGaps = {
    avoidableBias: train === null ? null : train - reference,
    variance: train === null || valid === null ? null : valid - train,
    shift: valid === null || test === null ? null : test - valid,
  };
  if (train === null && valid === null) {
    return { runId, verdict: 'noData', summary: 'This run has no train or valid figures to diagnose: it may have failed, or the project has no labelled train/valid images.', errors, gaps, steps: [], kFoldNote, notes };
  }
  const validCount = metrics?.valid?.count ?? 0;
  const testCount = metrics?.test?.count ?? 0;
  const trainCount = metrics?.trainInSample?.count ?? metrics?.train?.count ?? 0;
  const biasLarge = gaps.avoidableBias !== null && gaps.avoidableBias > Math.max(minimumGap, noise(train ?? 0, trainCount));
  const varianceLarge = gaps.variance !== null && gaps.variance > Math.max(minimumGap, noise(valid ?? 0, validCount));
  const shiftNoise = valid !== null && test !== null ? Math.sqrt(noise(valid, validCount) ** 2 + noise(test, testCount) ** 2) : 0;
  const shiftLarge = gaps.shift !== null && Math.abs(gaps.shift) > Math.max(minimumGap, shiftNoise);
  if (gaps.shift !== null && !shiftLarge && Math.abs(gaps.shift) > minimumGap) notes.push(`The valid-test difference (${pct(gaps.shift)}) is within sampling noise for ${validCount} valid and ${testCount} test images.`);
  const imbalance = trainImbalance(metrics);

  const verdict: DiagnosisVerdict =
    biasLarge && varianceLarge ? 'both' : biasLarge ? 'underfitting' : varianceLarge ? 'overfitting' : shiftLarge ? 'shift' : goal && valid !== null && valid > goal.targetError + minimumGap ? 'underfitting' : 'onTarget';
  const flagged = new Set<StepCategory>();
  if (biasLarge || (verdict === 'underfitting')) flagged.add('underfitting');
  if (varianceLarge) flagged.add('overfitting');
  if (shiftLarge) flagged.add('shift');
  if (imbalance !== null) flagged.add('rebalance');
  const steps = stepsFor(input, flagged, imbalance);
  return { runId, verdict, summary: summaryOf(verdict, errors, gaps, shiftLarge, imbalance), errors, gaps, steps, kFoldNote, notes };
}

/** The largest/smallest class support ratio of train (k-fold or in-sample rows), when above the threshold. */
function trainImbalance(metrics: RunMetrics | null): { ratio: number; smallest: string; largest: string } | null {
  const per = (metrics?.trainInSample ?? metrics?.train)?.perClass.filter((c) => c.support > 0) ?? [];
  if (per.length < 2) return null;
  const sorted = [...per].sort((a, b) => a.support - b.support);
  const ratio = sorted[sorted.length - 1]!.support / sorted[0]!.support;
  return ratio > imbalanceRatio ? { ratio, smallest: sorted[0]!.name, largest: sorted[sorted.length - 1]!.name } : null;
}

function summaryOf(verdict: DiagnosisVerdict, e: ErrorFigures, g: DiagnosisGaps, shiftLarge: boolean, imbalance: ReturnType<typeof trainImbalance>): string {
  const bias = g.avoidableBias === null ? '' : `avoidable bias ${pct(g.avoidableBias)}`;
  const variance = g.variance === null ? '' : `variance ${pct(g.variance)}`;
  const shift = g.shift === null ? '' : `valid→test shift ${pct(g.shift)}`;
  const figures = [bias, variance, shift].filter(Boolean).join(', ');
  const tail = [shiftLarge && verdict !== 'shift' ? ' Valid and test also disagree: check the split after that.' : '', imbalance ? ` Train is imbalanced (${imbalance.largest} has ${imbalance.ratio.toFixed(1)}x the images of ${imbalance.smallest}).` : ''].join('');
  switch (verdict) {
    case 'both':
      return `Both: address underfitting first. The model does not fit its own training images well enough (${figures}); reduce the bias, then the variance.${tail}`;
    case 'underfitting':
      return `Underfitting: the model is not good enough on its own training images (${figures}). A bigger model, less regularisation or longer training come first.${tail}`;
    case 'overfitting':
      return `Overfitting: the model fits train much better than valid (${figures}). More data, augmentation and regularisation help most.${tail}`;
    case 'shift':
      return `Distribution shift: valid and test disagree more than sampling explains (${figures}). Compare their errors and check the split before tuning further.${tail}`;
    case 'onTarget':
      return e.goal === null ? `No large gap (${figures}). Set a goal to judge whether this is good enough.${tail}` : `On target: valid error ${pct(e.valid ?? 0)} meets the goal of ${pct(e.goal)} (${figures}).${tail}`;
    case 'noData':
      return 'Nothing to diagnose.';
    default:
      return assertNever(verdict, 'verdict');
  }
}

/** The steps of the flagged categories, in practitioners' order, numbered. */
function stepsFor(input: DiagnosisInput, flagged: Set<StepCategory>, imbalance: ReturnType<typeof trainImbalance>): NextStep[] {
  const { config, runId } = input;
  const steps: Array<Omit<NextStep, 'priority'>> = [];
  const quick = config.mode === 'quick';
  if (flagged.has('underfitting')) {
    steps.push(
      quick
        ? { category: 'underfitting', title: 'Bigger head', detail: config.head === 'softmax' ? 'A linear head may be too simple for these embeddings: try an MLP head.' : `Widen the MLP head (${config.hidden} → ${config.hidden * 2} units), or pick a stronger backbone in the train form.`, action: { kind: 'train', config: config.head === 'softmax' ? { head: 'mlp', hidden: Math.max(256, config.hidden) } : { hidden: Math.min(4096, config.hidden * 2) } } }
        : { category: 'underfitting', title: 'Bigger network', detail: config.arch === 'small-cnn' ? 'The small CNN may lack capacity: try resnet-small.' : 'Fine-tune a pretrained backbone.', action: { kind: 'train', config: config.arch === 'small-cnn' ? { arch: 'resnet-small' } : { arch: 'finetune' } } },
      { category: 'underfitting', title: 'Less regularisation', detail: `Weight decay ${config.weightDecay} may hold the model back: try ${config.weightDecay / 10}.`, action: { kind: 'train', config: quick ? { weightDecay: config.weightDecay / 10 } : { weightDecay: config.weightDecay / 10, augment: 'light' } } },
      { category: 'underfitting', title: 'Train longer', detail: `Double the epochs (${config.epochs} → ${config.epochs * 2}) and the early-stopping patience.`, action: { kind: 'train', config: { epochs: Math.min(1000, config.epochs * 2), patience: Math.min(100, config.patience * 2) } } },
      { category: 'underfitting', title: 'Error analysis', detail: 'Look at the worst-scored images: systematic failures (a class, a look) point at what the model lacks; wrong labels point at the data.', action: { kind: 'review', queue: 'loss' } },
      { category: 'underfitting', title: 'Search hyperparameters', detail: 'Let a search try learning rates, head sizes and regularisation around this run.', action: { kind: 'search', runId } },
    );
  }
  if (flagged.has('overfitting')) {
    steps.push(
      { category: 'overfitting', title: 'More data', detail: 'More labelled images reduce variance most reliably; fix likely label errors too, which a model memorises.', action: { kind: 'review', queue: 'label' } },
      { category: 'overfitting', title: 'Stronger augmentation', detail: 'Train on stronger augmented views of the train images.', action: { kind: 'augment', preset: 'strong' } },
      { category: 'overfitting', title: 'More regularisation', detail: `Raise weight decay (${config.weightDecay} → ${Math.max(1e-4, config.weightDecay * 10)}).`, action: { kind: 'train', config: { weightDecay: Math.min(1, Math.max(1e-4, config.weightDecay * 10)) } } },
      { category: 'overfitting', title: 'Stop earlier', detail: `Early stopping with less patience (${config.patience} → ${Math.max(1, Math.floor(config.patience / 2))} epochs).`, action: { kind: 'train', config: { patience: Math.max(1, Math.floor(config.patience / 2)) } } },
      quick
        ? { category: 'overfitting', title: 'Smaller head', detail: config.head === 'mlp' ? 'Use a linear head instead of the MLP.' : 'The head is already linear: more data or augmentation are the levers.', action: config.head === 'mlp' ? { kind: 'train', config: { head: 'softmax' } } : { kind: 'none' } }
        : { category: 'overfitting', title: 'Smaller network', detail: config.arch === 'small-cnn' ? 'The small CNN is already the smallest: more data or augmentation are the levers.' : 'Try the small CNN.', action: config.arch === 'small-cnn' ? { kind: 'none' } : { kind: 'train', config: { arch: 'small-cnn' } } },
    );
  }
  if (flagged.has('shift')) {
    steps.push(
      { category: 'shift', title: 'Analyse valid vs test errors', detail: 'Compare the confusion matrices and the errors of valid and test: which classes or looks differ?', action: { kind: 'compare', runId } },
      { category: 'shift', title: 'Check the split', detail: 'Check that valid and test are drawn the same way (class balance per split), and rebalance if not.', action: { kind: 'splits' } },
      { category: 'shift', title: 'Check for leakage and duplicates', detail: 'Duplicates across splits make one split look easier than the other.', action: { kind: 'health' } },
    );
  }
  if (flagged.has('rebalance') && imbalance) {
    steps.push({ category: 'rebalance', title: 'Rebalance', detail: `${imbalance.largest} has ${imbalance.ratio.toFixed(1)}x the train images of ${imbalance.smallest}: rebalance the split or collect more of the small classes.`, action: { kind: 'splits' } });
  }
  return steps.map((s, i) => ({ ...s, priority: i + 1 }));
}
