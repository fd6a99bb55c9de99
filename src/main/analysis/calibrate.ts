/**
 * Temperature scaling (Guo et al., 2017) of out-of-sample probabilities. Loupe stores probabilities,
 * not logits, so log p stands for the logits: p_T ∝ p^(1/T). One temperature is fitted by minimising
 * the negative log-likelihood of the given labels (a 1-D golden-section search over log T); it is
 * fitted on out-of-sample rows only, so it corrects the model's over- or under-confidence without
 * learning the labels it is judged on. ECE: 15 equal-width confidence bins.
 */

const floor = 1e-7;

/** Probabilities at temperature t (a new array per row; rows sum to 1). */
export function applyTemperature(probabilities: readonly ArrayLike<number>[], t: number): Float64Array[] {
  return probabilities.map((p) => scaled(p, t));
}

function scaled(p: ArrayLike<number>, t: number): Float64Array {
  const k = p.length;
  const out = new Float64Array(k);
  let max = -Infinity;
  for (let j = 0; j < k; j++) {
    out[j] = Math.log(Math.max(p[j]!, floor)) / t;
    if (out[j]! > max) max = out[j]!;
  }
  let sum = 0;
  for (let j = 0; j < k; j++) sum += out[j] = Math.exp(out[j]! - max);
  for (let j = 0; j < k; j++) out[j]! /= sum;
  return out;
}

/** Mean negative log-likelihood of `given` at temperature t. */
export function nllAt(probabilities: readonly ArrayLike<number>[], given: readonly number[], t: number): number {
  let total = 0;
  for (let i = 0; i < given.length; i++) total -= Math.log(Math.max(scaled(probabilities[i]!, t)[given[i]!]!, floor));
  return given.length > 0 ? total / given.length : 0;
}

/** Expected calibration error: the count-weighted mean |accuracy - confidence| over `bins` equal-width bins of the top probability. */
export function expectedCalibrationError(probabilities: readonly ArrayLike<number>[], given: readonly number[], bins = 15): number {
  const n = given.length;
  if (n === 0) return 0;
  const confidence = new Float64Array(bins);
  const correct = new Float64Array(bins);
  const count = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    const p = probabilities[i]!;
    let best = 0;
    for (let j = 1; j < p.length; j++) if (p[j]! > p[best]!) best = j;
    const b = Math.min(bins - 1, Math.floor(p[best]! * bins));
    confidence[b]! += p[best]!;
    correct[b]! += best === given[i] ? 1 : 0;
    count[b]!++;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b]! > 0) ece += Math.abs(correct[b]! - confidence[b]!) / n;
  return ece;
}

/** A fitted temperature and ECE before and after. */
export interface Calibration {
  temperature: number;
  eceBefore: number;
  eceAfter: number;
  rows: number;
}

/** Fits one temperature on (out-of-sample) probabilities and their labels; T in [0.05, 20]. */
export function fitTemperature(probabilities: readonly ArrayLike<number>[], given: readonly number[]): Calibration {
  const eceBefore = expectedCalibrationError(probabilities, given);
  if (given.length === 0) return { temperature: 1, eceBefore, eceAfter: eceBefore, rows: 0 };
  // Golden-section search on log T: NLL is unimodal in T for a fixed set of logits.
  let lo = Math.log(0.05);
  let hi = Math.log(20);
  const ratio = (Math.sqrt(5) - 1) / 2;
  let a = hi - ratio * (hi - lo);
  let b = lo + ratio * (hi - lo);
  let fa = nllAt(probabilities, given, Math.exp(a));
  let fb = nllAt(probabilities, given, Math.exp(b));
  for (let step = 0; step < 40 && hi - lo > 1e-4; step++) {
    if (fa < fb) {
      hi = b;
      b = a;
      fb = fa;
      a = hi - ratio * (hi - lo);
      fa = nllAt(probabilities, given, Math.exp(a));
    } else {
      lo = a;
      a = b;
      fa = fb;
      b = lo + ratio * (hi - lo);
      fb = nllAt(probabilities, given, Math.exp(b));
    }
  }
  const temperature = Math.exp((lo + hi) / 2);
  return { temperature, eceBefore, eceAfter: expectedCalibrationError(applyTemperature(probabilities, temperature), given), rows: given.length };
}
