import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { chiSquareHomogeneity, chiSquareSurvival } from '../../../src/main/dataset/splitReport';
import { tempDir } from '../../helpers/fixtures';
import { addSyntheticImages } from '../../helpers/synthetic';

let core: Core | null = null;
afterEach(async () => {
  await core?.shutdown();
  core = null;
});

describe('chi-square', () => {
  it('matches table values of the chi-square distribution', () => {
    // Critical values: P(X >= 3.841 | k=1) = 0.05, P(X >= 9.210 | k=2) = 0.01, P(X >= 18.307 | k=10) = 0.05.
    expect(chiSquareSurvival(3.841, 1)).toBeCloseTo(0.05, 3);
    expect(chiSquareSurvival(9.21, 2)).toBeCloseTo(0.01, 3);
    expect(chiSquareSurvival(18.307, 10)).toBeCloseTo(0.05, 3);
    expect(chiSquareSurvival(0, 3)).toBe(1);
  });

  it('computes the homogeneity statistic by hand', () => {
    // train 30/10, valid 10/10: expected train 26.67/13.33, valid 13.33/6.67.
    const { statistic, degreesOfFreedom } = chiSquareHomogeneity([30, 10], [10, 10]);
    const e = [40 * (40 / 60), 40 * (20 / 60), 20 * (40 / 60), 20 * (20 / 60)];
    const o = [30, 10, 10, 10];
    expect(statistic).toBeCloseTo(o.reduce((s, x, i) => s + (x - e[i]!) ** 2 / e[i]!, 0), 10);
    expect(degreesOfFreedom).toBe(1);
    expect(chiSquareHomogeneity([5, 0], [0, 0]).pValue).toBeNull();
  });
});

describe('split report', () => {
  it('warns about a missing class, a skewed split and classes too small to measure', async () => {
    core = new Core();
    await core.call('project:open', { file: path.join(tempDir(), 's.loupe'), create: true });
    addSyntheticImages(core.requireProject().db, [
      // train 160/80/40 (4:2:1); test 16/8/4 has train's mix exactly; valid 38/2/0 does not.
      { name: 'a', count: 214, split: (i) => (i < 160 ? 'train' : i < 198 ? 'valid' : 'test') },
      { name: 'b', count: 90, split: (i) => (i < 80 ? 'train' : i < 82 ? 'valid' : 'test') },
      { name: 'c', count: 44, split: (i) => (i < 40 ? 'train' : 'test') },
    ]);
    const report = await core.call('splits:report', { pThreshold: 0.01, minPerClass: 10 });
    expect(report.totals).toEqual({ train: 280, valid: 40, test: 28 });
    const kinds = report.warnings.map((w) => `${w.kind}:${w.split}:${w.className ?? ''}`).sort();
    expect(kinds).toEqual([
      'distribution:valid:',
      'missing-class:valid:c',
      'too-small:test:b',
      'too-small:test:c',
      'too-small:valid:b',
    ]);
    expect(report.tests.find((t) => t.split === 'test')!.statistic).toBeCloseTo(0, 10);
    const valid = report.tests.find((t) => t.split === 'valid')!;
    expect(valid.pValue!).toBeLessThan(0.01);
    expect(report.warnings.find((w) => w.kind === 'distribution')!.message).toMatch(/chi-square test, p = .* < 0.01/);
  });
});
