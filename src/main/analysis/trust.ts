/**
 * Test-set trust: the label-error analysis of the test rows on their own (never mixed with train
 * rows: signals.ts computes the test group apart). The estimated share of wrong test labels with a
 * 95% Wilson interval, and the test accuracy corrected for them: a miss on an image whose label is
 * wrong is the model's mistake only if it also misses the true class, so the corrected accuracy
 * counts, per image, the chance the model's answer is the true class: (1 - P(wrong)) where it agrees
 * with the label, P(wrong) × (the share of the other classes' posterior on its answer) where not.
 */
import { assertNever } from '../../shared/assertNever';
import type { TestTrust } from '../../shared/train';
import type { Analysed } from './issues';
import { wilsonInterval } from './noise';

/** The trust figures of a run's test split; null without labelled test predictions (and for a regression run, which has no labels to doubt). */
export function testTrust(a: Analysed): TestTrust | null {
  switch (a.run.task) {
    case 'classification':
      break;
    case 'regression':
      return null;
    default:
      return assertNever(a.run.task, 'task');
  }
  const s = a.signals.signals;
  let rows = 0;
  let wrongSum = 0;
  let correct = 0;
  let corrected = 0;
  a.signals.labelled.forEach((i, r) => {
    const row = a.rows[i]!;
    if (row.split !== 'test') return;
    rows++;
    const pw = s.pWrong[r]!;
    wrongSum += pw;
    const given = row.given!;
    if (row.predicted === given) {
      correct++;
      corrected += 1 - pw;
    } else {
      // The calibrated model's mass on its answer among the classes other than the given one.
      const onAnswer = s.calibrated[r]![row.predicted]!;
      let otherMass = 0;
      for (let j = 0; j < a.run.classes.length; j++) if (j !== given) otherMass += s.calibrated[r]![j]!;
      corrected += pw * (otherMass > 0 ? onAnswer / otherMass : 0);
    }
  });
  if (rows === 0) return null;
  return {
    rows,
    noiseRate: wrongSum / rows,
    interval: wilsonInterval(wrongSum, rows),
    labels: Math.round(wrongSum),
    accuracy: correct / rows,
    correctedAccuracy: corrected / rows,
    correctedInterval: wilsonInterval(corrected, rows),
    method: 'The test rows analysed on their own: calibrated model and nearest images under a uniform label-noise model fitted to the test split; 95% Wilson intervals.',
  };
}
