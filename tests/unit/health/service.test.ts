/**
 * How health results are served: reads never rerun the duplicate finder (stale results are served,
 * brought up to date with splits and removals, until the job runs), the per-split minimum is
 * applied at read time, dismissals are tracked by revision, an unlabelled copy is no label
 * conflict, "move together" refuses to empty a locked split and each group carries its home split,
 * Splits' leakage warning leaves dismissed groups out, the job reads features as import does, and
 * the first run of a large project is the job's.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { emptyReport, readHealth } from '../../../src/main/health/service';
import type { Db } from '../../../src/main/store/db';
import { loadResults } from '../../../src/main/store/health';
import type { ErrorInfo } from '../../../src/shared/errors';
import { tempDir, writeImage } from '../../helpers/fixtures';

let core: Core | null = null;
afterEach(async () => {
  await core?.shutdown();
  core = null;
});

async function open(dir: string, kind?: 'folders' | 'split-folders'): Promise<Core> {
  core = new Core();
  await core.call('project:open', { file: path.join(tempDir(), 's.loupe'), create: true });
  const { jobId } = await core.call('dataset:import', { source: dir, ...(kind ? { kind } : {}) });
  expect((await core.jobs.finished(jobId)).state).toBe('done');
  return core;
}

const dbOf = (c: Core): Db => c.requireProject().db;
const computedAt = (c: Core) => loadResults(dbOf(c))?.report.computedAt ?? null;

async function runJob(c: Core): Promise<void> {
  const { jobId } = await c.call('health:run', {});
  expect((await c.jobs.finished(jobId)).state).toBe('done');
}

async function failure(promise: Promise<unknown>): Promise<ErrorInfo> {
  try {
    await promise;
  } catch (error) {
    return error as ErrorInfo;
  }
  return expect.unreachable('the call succeeded');
}

/** train/cat and test/cat of distinct images, with byte copies of c0 and c1 in test (two leaking groups). */
async function leakyFolder(): Promise<string> {
  const dir = tempDir();
  for (let i = 0; i < 12; i++) {
    await writeImage(path.join(dir, 'train', 'cat', `c${i}.png`), i, { width: 64, height: 48 });
    await writeImage(path.join(dir, 'test', 'cat', `t${i}.png`), 100 + i, { width: 64, height: 48 });
  }
  fs.copyFileSync(path.join(dir, 'train', 'cat', 'c0.png'), path.join(dir, 'test', 'cat', 'copy0.png'));
  fs.copyFileSync(path.join(dir, 'train', 'cat', 'c1.png'), path.join(dir, 'test', 'cat', 'copy1.png'));
  return dir;
}

const isRoot = process.getuid?.() === 0;

/** Makes a file unwritable for this process (the immutable attribute as root); returns the undo, or null where that cannot be done. */
function lockDown(file: string): (() => void) | null {
  try {
    if (isRoot) execFileSync('chattr', ['+i', file], { stdio: 'ignore' });
    else fs.chmodSync(file, 0o444);
  } catch {
    return null;
  }
  return () => {
    if (isRoot) execFileSync('chattr', ['-i', file], { stdio: 'ignore' });
    else fs.chmodSync(file, 0o644);
  };
}

const canLockDown = (() => {
  const file = path.join(tempDir('loupe-probe-'), 'probe');
  fs.writeFileSync(file, '');
  const undo = lockDown(file);
  if (!undo) return false;
  try {
    fs.writeFileSync(file, 'x');
    return false;
  } catch {
    return true;
  } finally {
    undo();
  }
})();

async function idOf(c: Core, name: string): Promise<number> {
  const page = await c.call('images:page', { filter: {}, limit: 2000 });
  const row = page.rows.find((r) => path.basename(r.path) === name);
  if (!row) throw new Error(`no image ${name}`);
  return row.id;
}

describe('health results', () => {
  it('serves stored results, marked stale and brought up to date, without rerunning the finder; the job catches up', async () => {
    const c = await open(await leakyFolder(), 'split-folders');
    const first = await c.call('health:report', {});
    expect(first).toMatchObject({ stale: false, images: 26 });
    expect(first.duplicates.crossSplitGroups).toBe(2);
    const stamp = computedAt(c);
    expect(stamp).not.toBeNull();

    // Another per-split minimum is applied to the stored results: no recompute, no thrash.
    const strict = await c.call('health:report', { minPerSplit: 13 });
    expect(strict.balance.minPerSplit).toBe(13);
    expect(strict.balance.underMinimum).toEqual([{ split: 'train', className: 'cat', count: 12 }]);
    expect(computedAt(c)).toBe(stamp);

    // Removing a leaking copy: the next reads show it gone at once, marked stale, finder not rerun.
    await c.call('images:remove', { ids: [await idOf(c, 'copy0.png')] });
    const after = await c.call('health:report', {});
    expect(after.stale).toBe(true);
    expect(after.images).toBe(25);
    expect(after.duplicates.crossSplitGroups).toBe(1);
    expect((await c.call('health:groups', { view: 'crossSplit' })).total).toBe(1);
    expect((await c.call('splits:report', {})).warnings.filter((w) => w.kind === 'leakage')[0]!.message).toMatch(/^1 duplicate group lie/);
    await c.call('splits:plan', { ratios: { train: 80, valid: 10, test: 10 }, locked: ['test'] });
    await c.call('health:leakagePlan', { mode: 'move', locked: [] });
    await c.call('health:image', { id: await idOf(c, 'c1.png') });
    expect(computedAt(c)).toBe(stamp);

    await runJob(c);
    const caught = await c.call('health:report', {});
    expect(caught.stale).toBe(false);
    expect(caught.duplicates.crossSplitGroups).toBe(1);
    expect(computedAt(c)).not.toBe(stamp);
  }, 60_000);

  it('tracks dismissals by revision: un-dismissing one group and keeping another is seen at once', async () => {
    const c = await open(await leakyFolder(), 'split-folders');
    const keys = (await c.call('health:groups', { view: 'exact' })).rows.map((g) => g.key);
    expect(keys).toHaveLength(2);
    const [a, b] = keys as [string, string];
    await c.call('health:resolveGroup', { group: a, action: 'keep' });
    await runJob(c);
    expect((await c.call('health:report', {})).duplicates.dismissed).toBe(1);

    // Same number of dismissals, different ones.
    await c.call('health:resolveGroup', { group: a, action: 'undismiss' });
    await c.call('health:resolveGroup', { group: b, action: 'keep' });
    const shown = (await c.call('health:groups', { view: 'exact' })).rows.map((g) => g.key);
    expect(shown).toEqual([a]);
    const report = await c.call('health:report', {});
    expect(report.duplicates).toMatchObject({ exactGroups: 1, dismissed: 1, crossSplitGroups: 1 });

    // Splits agrees with Health: the kept group is no leakage there either.
    const leaks = (await c.call('splits:report', {})).warnings.filter((w) => w.kind === 'leakage');
    expect(leaks).toHaveLength(1);
    expect(leaks[0]!.message).toMatch(/^1 duplicate group lie in both train and test/);
    await c.call('health:resolveGroup', { group: a, action: 'keep' });
    expect((await c.call('splits:report', {})).warnings.filter((w) => w.kind === 'leakage')).toHaveLength(0);
    expect((await c.call('health:report', {})).duplicates.crossSplitGroups).toBe(0);
  }, 60_000);

  it('an unlabelled copy of a labelled image is no label conflict; two classes are', async () => {
    const dir = tempDir();
    for (let i = 0; i < 6; i++) {
      await writeImage(path.join(dir, 'Shirt', `s${i}.png`), i, { width: 64, height: 48 });
      await writeImage(path.join(dir, 'Coat', `k${i}.png`), 50 + i, { width: 64, height: 48 });
    }
    // s0 also lies at the top, unlabelled; s1 also lies under Coat.
    fs.copyFileSync(path.join(dir, 'Shirt', 's0.png'), path.join(dir, 'loose.png'));
    fs.copyFileSync(path.join(dir, 'Shirt', 's1.png'), path.join(dir, 'Coat', 'also-s1.png'));
    const c = await open(dir);
    const groups = (await c.call('health:groups', { view: 'exact' })).rows;
    expect(groups).toHaveLength(2);
    const byName = (name: string) => groups.find((g) => g.members.some((m) => path.basename(m.path) === name))!;
    expect(byName('loose.png').members.map((m) => m.className).sort()).toEqual(['Shirt', null].sort());
    expect(byName('loose.png').labelConflict).toBe(false);
    expect(byName('also-s1.png').labelConflict).toBe(true);
    expect((await c.call('health:report', {})).duplicates.labelConflicts).toBe(1);
  }, 60_000);

  it('gives each group its home split for the locked splits, and move together refuses to empty a locked split', async () => {
    const c = await open(await leakyFolder(), 'split-folders');
    const open1 = (await c.call('health:groups', { view: 'crossSplit' })).rows;
    expect(open1.map((g) => g.home)).toEqual(['train', 'train']);
    const locked = (await c.call('health:groups', { view: 'crossSplit', locked: ['test'] })).rows;
    expect(locked.map((g) => g.home)).toEqual(['test', 'test']);
    const image = await c.call('health:image', { id: await idOf(c, 'copy0.png'), locked: ['test'] });
    expect(image.group?.home).toBe('test');

    const group = locked[0]!;
    const refused = await failure(c.call('health:resolveGroup', { group: group.key, action: 'moveTogether', split: 'train', locked: ['test'] }));
    expect(refused.code).toBe('CONFLICT');
    expect(refused.message).toMatch(/is in test, which is locked.*Move it into test instead, or unlock test first/);
    const moved = await c.call('health:resolveGroup', { group: group.key, action: 'moveTogether', split: 'test', locked: ['test'] });
    expect(moved).toMatchObject({ changed: 1, description: 'Moved 1 duplicate together into test' });
    expect((await c.call('health:report', {})).duplicates.crossSplitGroups).toBe(1);
  }, 60_000);

  it('reads features in the job as import does: the same pixel hash, above the full-decode limit too', async () => {
    const dir = tempDir();
    for (let i = 0; i < 4; i++) await writeImage(path.join(dir, 'a', `i${i}.png`), i, { width: 64, height: 48 });
    // 2600 x 1600 = 4.16 MP: import hashes its bytes rather than decoding it in full.
    await sharp({ create: { width: 2600, height: 1600, channels: 3, background: { r: 90, g: 140, b: 30 } } })
      .jpeg()
      .toFile(path.join(dir, 'a', 'big.jpg'));
    const c = await open(dir);
    const db = dbOf(c);
    const hashes = () => db.prepare('SELECT content_hash AS c, pixel_hash AS p FROM health_features ORDER BY content_hash').all();
    const imported = hashes();
    expect(imported).toHaveLength(5);
    expect(imported.some((r) => (r as { p: string }).p.startsWith('bytes:'))).toBe(true);
    // As if imported by an older Loupe: no features stored. The job reads them again.
    db.prepare('DELETE FROM health_features').run();
    await runJob(c);
    expect(hashes()).toEqual(imported);
  }, 60_000);

  it('before the first run of a large project a read finds nothing and the job computes', async () => {
    const c = await open(await leakyFolder(), 'split-folders');
    const db = dbOf(c);
    // split-folders import assigns no splits, so nothing ran the checks yet.
    expect(loadResults(db)).toBeNull();
    expect(readHealth(db, 0)).toBeNull();
    expect(loadResults(db)).toBeNull();
    // What health:report answers meanwhile: nothing found yet, balance as of now, computing.
    const empty = emptyReport(db);
    expect(empty).toMatchObject({ computedAt: 0, stale: true, computing: true, images: 26 });
    expect(empty.duplicates.crossSplitGroups).toBe(0);
    expect(empty.balance.classes).toEqual([{ name: 'cat', total: 26, counts: { train: 12, valid: 0, test: 14 }, share: 1 }]);
    await runJob(c);
    expect(readHealth(db, 0)?.report()).toMatchObject({ stale: false, images: 26 });
  }, 60_000);

  it.skipIf(!canLockDown)('on a read-only project, the health job writes nothing: features it lacks stay unmeasured', async () => {
    let c = await open(await leakyFolder(), 'split-folders');
    // As if imported by an older Loupe: no features stored, so a job on a writable project would read and save them.
    dbOf(c).prepare('DELETE FROM health_features').run();
    const file = c.requireProject().info().file;
    await c.shutdown();
    core = null;
    const sha = () => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    const before = sha();
    const undo = lockDown(file)!;
    try {
      c = core = new Core();
      expect((await c.call('project:open', { file })).readOnly).toBe(true);
      await runJob(c);
      const report = await c.call('health:report', {});
      expect(report).toMatchObject({ images: 26, featuresMissing: 26 });
      await c.shutdown();
      core = null;
    } finally {
      undo();
    }
    expect(sha()).toBe(before);
  }, 60_000);

  it.skipIf(!canLockDown)('on a read-only project, computes out-of-date results without storing them, and health:image answers', async () => {
    let c = await open(await leakyFolder(), 'split-folders');
    await c.call('health:report', {});
    // The results go out of date: one more change, then the project closes before the job runs.
    await c.call('images:remove', { ids: [await idOf(c, 'copy0.png')] });
    const file = c.requireProject().info().file;
    await c.shutdown();
    core = null;
    const sha = () => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    const before = sha();
    const undo = lockDown(file)!;
    try {
      c = core = new Core();
      expect((await c.call('project:open', { file })).readOnly).toBe(true);
      const report = await c.call('health:report', {});
      expect(report).toMatchObject({ stale: false, images: 25 });
      expect(report.duplicates.crossSplitGroups).toBe(1);
      const image = await c.call('health:image', { id: await idOf(c, 'c1.png') });
      expect(image.group?.members).toHaveLength(2);
      expect(image.scores).not.toBeNull();
      expect((await c.call('health:groups', { view: 'crossSplit' })).total).toBe(1);
      expect((await c.call('splits:report', {})).warnings.filter((w) => w.kind === 'leakage')).toHaveLength(1);
      await c.shutdown();
      core = null;
    } finally {
      undo();
    }
    expect(sha()).toBe(before);
  }, 60_000);
});
