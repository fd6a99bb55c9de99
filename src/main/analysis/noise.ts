/**
 * How many labels are wrong. Confident learning's joint counts the model's own mistakes as label
 * errors (2x too many on Fashion-MNIST at 10% planted noise). Here each row's posterior that its
 * label is right, c = P(true class = given | model, neighbours), is combined with a uniform label-noise
 * model: a label is kept with probability 1 - η and otherwise replaced by one of the other K - 1
 * classes. The noise rate η is the fixed point of η = mean_i P(wrong_i | η) (an EM on one parameter),
 * where P(wrong | η) = 1 - (1-η)c / ((1-η)c + η(1-c)/(K-1)). A hard image the model is unsure of
 * (c = 0.3) stays mostly "right"; only labels the evidence strongly contradicts count as wrong.
 */

/** P(label wrong) for each row at noise rate eta. */
export function wrongPosterior(correct: ArrayLike<number>, eta: number, classCount: number): Float64Array {
  const out = new Float64Array(correct.length);
  const other = eta / Math.max(classCount - 1, 1);
  for (let i = 0; i < correct.length; i++) {
    const c = Math.min(Math.max(correct[i]!, 0), 1);
    const keep = (1 - eta) * c;
    const denominator = keep + other * (1 - c);
    out[i] = denominator > 0 ? 1 - keep / denominator : 0;
  }
  return out;
}

/** The noise rate and each row's P(wrong), by the fixed-point iteration (from η = 0.1). */
export function estimateNoise(correct: ArrayLike<number>, classCount: number): { rate: number; pWrong: Float64Array } {
  const n = correct.length;
  if (n === 0 || classCount < 2) return { rate: 0, pWrong: new Float64Array(n) };
  let eta = 0.1;
  let pWrong = wrongPosterior(correct, eta, classCount);
  for (let step = 0; step < 500; step++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += pWrong[i]!;
    const next = Math.min(sum / n, 1 - 1e-9);
    pWrong = wrongPosterior(correct, next, classCount);
    if (Math.abs(next - eta) < 1e-7) {
      eta = next;
      break;
    }
    eta = next;
  }
  return { rate: eta, pWrong };
}

/** Wilson score interval (95%) of a proportion: `successes` (may be fractional, an expected count) of n. */
export function wilsonInterval(successes: number, n: number, z = 1.96): [number, number] {
  if (n <= 0) return [0, 1];
  const p = Math.min(Math.max(successes / n, 0), 1);
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** The expected number and share of wrong labels among `pWrong` values (a queue's next rows). */
export function expectedPrecision(pWrong: readonly number[]): { count: number; expectedWrong: number; precision: number } {
  const expectedWrong = pWrong.reduce((a, b) => a + b, 0);
  return { count: pWrong.length, expectedWrong, precision: pWrong.length > 0 ? expectedWrong / pWrong.length : 0 };
}
