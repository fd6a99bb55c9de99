/**
 * Quantile bins of values as split strata (src/main/dataset/quantiles.ts): a rebalance of a
 * regression project keeps every split's value distribution close to the whole, and the split
 * report of a regression project measures splits by their values, with no class warnings.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import type { Db } from '../../../src/main/store/db';
import type { ImageId, SplitName } from '../../../src/shared/types';
import { splitNames } from '../../../src/shared/types';
import { tempDir } from '../../helpers/fixtures';
import { addValueImages, distinctValues, labelsOf } from './binningData';

let core: Core;
let db: Db;
beforeEach(async () => {
  core = new Core();
  await core.call('project:open', { file: path.join(tempDir(), 'strata.loupe'), create: true });
  db = core.requireProject().db;
});
afterEach(async () => {
  await core.shutdown();
});

/** Images per split in each tenth of the values by rank (n distinct values: rank * 10 / n). */
function decileCounts(): Record<SplitName, number>[] {
  const rows = [...labelsOf(db).values()].filter((l) => l.value !== null).sort((a, b) => a.value! - b.value!);
  const out = Array.from({ length: 10 }, () => ({ train: 0, valid: 0, test: 0 }));
  rows.forEach((r, rank) => {
    if (r.split) out[Math.floor((rank * 10) / rows.length)]![r.split]++;
  });
  return out;
}

describe('value strata', () => {
  it('rebalance of a regression project deals every tenth of the values to the splits by the ratios', async () => {
    addValueImages(db, distinctValues(500, 0.37), () => 'train');
    for (const seed of [1, 2]) {
      const result = await core.call('splits:apply', { ratios: { train: 70, valid: 15, test: 15 }, locked: [], seed });
      if (seed === 1) expect(result.changed).toBe(150);
      decileCounts().forEach((row, decile) => {
        for (const [split, share] of [['train', 0.7], ['valid', 0.15], ['test', 0.15]] as const) {
          expect(Math.abs(row[split] - share * 50), `seed ${seed}, decile ${decile} ${split}: ${JSON.stringify(row)}`).toBeLessThanOrEqual(1);
        }
      });
    }
  });

  it('the split report of a regression project counts values per split and tests their distribution, with no class warnings', async () => {
    const values = distinctValues(300);
    const ids = addValueImages(db, values, () => 'train');
    const onlyTrain = await core.call('splits:report', {});
    expect(onlyTrain.classes).toEqual([]);
    expect(onlyTrain.totals).toEqual({ train: 300, valid: 0, test: 0 });
    expect(onlyTrain.warnings.map((w) => `${w.kind} ${w.split}`)).toEqual(['empty-split valid', 'empty-split test']);

    await core.call('splits:apply', { ratios: { train: 60, valid: 20, test: 20 }, locked: [], seed: 4 });
    const stratified = await core.call('splits:report', {});
    expect(stratified.totals).toEqual({ train: 180, valid: 60, test: 60 });
    expect(stratified.tests.map((t) => t.split)).toEqual(['valid', 'test']);
    for (const t of stratified.tests) expect(t.pValue!).toBeGreaterThan(0.5);
    expect(stratified.warnings).toEqual([]);

    // Valid takes the 60 largest values: its distribution is nothing like train's.
    const largest = ids.filter((_, i) => values[i]! >= 240);
    const trainIds = [...labelsOf(db)].filter(([, l]) => l.split === 'valid').map(([id]) => id);
    db.transaction(() => {
      const move = db.prepare('UPDATE splits SET split = ? WHERE image_id = ?');
      for (const id of trainIds) move.run('train', id);
      for (const id of largest) move.run('valid', id as ImageId);
    })();
    const skewed = await core.call('splits:report', {});
    const kinds = skewed.warnings.map((w) => `${w.kind} ${w.split}`);
    expect(kinds).toContain('distribution valid');
    expect(kinds).not.toContain('distribution test');
    expect(skewed.warnings.find((w) => w.split === 'valid')!.message).toMatch(/values are distributed unlike train's .*value deciles/);
    for (const split of splitNames) expect(skewed.totals[split]).toBe([...labelsOf(db).values()].filter((l) => l.split === split).length);
  });
});
