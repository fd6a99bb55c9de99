/**
 * Data health end to end: a generated dataset with duplicates planted across splits, a label
 * conflict, a near duplicate and bad images, imported by the CLI; Overview and Health show the
 * planted counts, a check opens the Gallery filtered to it, leakage is fixed from the UI in one
 * click (its preview on screen first), the counts drop to zero, and undo brings them back. A group
 * decision in the duplicate queue is one key and one undo. Each step is checked through the CLI's
 * JSON too, not the UI alone.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planted, writeHealthDataset } from '../unit/cli/healthDataset';
import { launchBrowser, openApp, serve, type ServedApp } from './app';

const bin = path.resolve('bin/loupe.mjs');
let browser: Browser;
let app: ServedApp;
let page: Page;

function cli<T>(...args: string[]): T {
  const out = execFileSync(process.execPath, [bin, ...args, '--project', app.projectFile, '--json'], { encoding: 'utf8' });
  return JSON.parse(out) as T;
}
const duplicates = () =>
  cli<{ duplicates: { exactGroups: number; crossSplitGroups: number; labelConflicts: number; dismissed: number } }>('health').duplicates;

const text = (testId: string) => page.getByTestId(testId).first().textContent();
const check = (name: string) => page.locator(`[data-testid="health-check"][data-check="${name}"]`);

async function expectToast(pattern: RegExp): Promise<void> {
  await expect.poll(() => page.getByTestId('toast').last().textContent()).toMatch(pattern);
}

beforeAll(async () => {
  app = await serve();
  const source = path.join(app.dir, 'data');
  await writeHealthDataset(source);
  cli('import', source);
  browser = await launchBrowser();
  page = await openApp(browser, app);
});

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

describe('data health', () => {
  it('shows the planted duplicate and leakage counts on the Overview', async () => {
    await page.getByTestId('nav-overview').click();
    await expect.poll(() => text('overview-duplicates')).toBe(String(planted.exactGroups + planted.nearGroups));
    await expect.poll(() => text('overview-leakage')).toBe(String(planted.crossSplitGroups));
  });

  it('lists every check in Health with the planted counts, its rule and the named thresholds', async () => {
    await page.getByTestId('overview-leakage-card').click();
    await expect.poll(() => text('health-count-exact')).toBe(String(planted.exactGroups));
    expect(await text('health-count-near')).toBe(String(planted.nearGroups));
    expect(await text('health-count-leakage')).toBe(String(planted.crossSplitGroups));
    expect(await text('health-count-conflicts')).toBe(String(planted.labelConflicts));
    for (const [pair, groups] of Object.entries(planted.bySplitPair)) {
      expect(await page.locator(`[data-testid="leakage-pair"][data-pair="${pair}"]`).getAttribute('data-groups')).toBe(String(groups));
    }
    for (const name of ['dark', 'tiny', 'oddAspect'] as const) {
      expect(await check(name).getAttribute('data-count')).toBe(String(planted[name].length));
    }
    expect(await check('dark').getByTestId('health-check-rule').textContent()).toMatch(/brightness under \d+/);
    // Every quality check has a row, and every row says why it matters.
    expect(await page.getByTestId('health-check').count()).toBe(4 + 9);
    expect(await page.getByTestId('health-threshold').count()).toBeGreaterThan(0);
    await page.screenshot({ path: '/tmp/loupe-health.png', fullPage: true });
  });

  it('opens the Gallery filtered to a check', async () => {
    await check('dark').getByTestId('health-open-gallery').click();
    await expect.poll(() => page.getByTestId('gallery-count').getAttribute('data-total')).toBe('1');
    expect(await page.getByTestId('filter-health').inputValue()).toBe('dark');
    await expect.poll(() => page.getByTestId('gallery-cell').first().getAttribute('title')).toBe(planted.dark[0]);
    expect(new URL(page.url()).hash).toContain('health=dark');
    // The large view says why the image is flagged, against this dataset.
    await page.getByTestId('gallery-cell').first().click();
    await page.keyboard.press(' ');
    await page.getByTestId('image-viewer').waitFor();
    const flag = page.locator('[data-testid="viewer-health-flag"][data-check="dark"]');
    await expect.poll(() => flag.textContent()).toMatch(/darker than \d+(\.\d+)?% of this dataset/);
    await page.keyboard.press('Escape');
    await page.getByTestId('image-viewer').waitFor({ state: 'detached' });
    await page.getByTestId('filter-health').selectOption('leakage');
    // Every member of a leaking group: A has 2, B has 3.
    await expect.poll(() => page.getByTestId('gallery-count').getAttribute('data-total')).toBe('5');
  });

  it('fixes leakage in one click after showing what moves, and undo brings it back', async () => {
    await page.getByTestId('nav-health').click();
    const preview = page.getByTestId('leakage-preview');
    await expect.poll(() => preview.getAttribute('data-moves')).toBe('3');
    expect(await preview.getAttribute('data-groups')).toBe(String(planted.crossSplitGroups));
    // The preview shows each image that moves, with its thumbnail loaded.
    const moves = page.getByTestId('leakage-move');
    expect(await moves.count()).toBe(3);
    await expect.poll(() => moves.first().locator('img').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);

    await page.getByTestId('leakage-fix').click();
    await expectToast(/undo/i);
    await expect.poll(() => text('health-count-leakage')).toBe('0');
    await page.getByTestId('leakage-none').waitFor();
    expect(duplicates().crossSplitGroups).toBe(0);
    await page.getByTestId('nav-overview').click();
    await expect.poll(() => text('overview-leakage')).toBe('0');

    await page.getByTestId('nav-health').click();
    await page.getByTestId('health-undo').click();
    await expectToast(/Undid|Undone/);
    await expect.poll(() => text('health-count-leakage')).toBe(String(planted.crossSplitGroups));
    expect(duplicates().crossSplitGroups).toBe(planted.crossSplitGroups);
    await page.getByTestId('nav-splits').click();
    await expect.poll(() => page.getByTestId('split-leakage').getAttribute('data-groups')).toBe(String(planted.crossSplitGroups));
  });

  it('offers Undo only for its own last change: an edit made elsewhere since is never undone from Health', async () => {
    await page.getByTestId('nav-health').click();
    await expect.poll(() => page.getByTestId('leakage-preview').getAttribute('data-moves')).toBe('3');
    await page.getByTestId('leakage-fix').click();
    await expect.poll(() => text('health-count-leakage')).toBe('0');
    await page.getByTestId('health-undo').waitFor();
    // Another program (the CLI) edits after the fix: Health no longer offers to undo, so that edit is safe.
    cli('remove', planted.dark[0]!);
    await page.getByTestId('health-undo').waitFor({ state: 'detached' });
    expect(cli<{ removed: number }>('stats').removed).toBe(1);
    // Put both back through the change log: the removal, then the fix.
    cli('undo');
    cli('undo');
    await expect.poll(() => duplicates().crossSplitGroups).toBe(planted.crossSplitGroups);
    expect(cli<{ removed: number }>('stats').removed).toBe(0);
    await expect.poll(() => text('health-count-leakage')).toBe(String(planted.crossSplitGroups));
  });

  it('decides a label conflict with one key in the queue, and Z undoes it', async () => {
    await page.getByTestId('nav-health').click();
    await check('labelConflict').getByTestId('health-open-queue').click();
    const groups = page.getByTestId('duplicate-group');
    await expect.poll(() => groups.count()).toBe(planted.labelConflicts);
    expect(await groups.first().getAttribute('data-label-conflict')).toBe('true');
    expect(await groups.first().getByTestId('duplicate-member').count()).toBe(2);
    await page.screenshot({ path: '/tmp/loupe-health-queue.png' });

    await page.keyboard.press('r');
    await expectToast(/undo/i);
    await page.getByTestId('duplicate-queue-empty').waitFor();
    expect(duplicates().labelConflicts).toBe(0);

    await page.keyboard.press('z');
    await expectToast(/Undid|Undone/);
    await expect.poll(() => groups.count()).toBe(planted.labelConflicts);
    expect(duplicates().labelConflicts).toBe(planted.labelConflicts);
    await page.keyboard.press('Escape');
    await expect.poll(() => text('health-count-conflicts')).toBe(String(planted.labelConflicts));
  });

  it('keeps a group as "not duplicates" with K, and Z reports it again', async () => {
    await check('exactDuplicate').getByTestId('health-open-queue').click();
    const groups = page.getByTestId('duplicate-group');
    await expect.poll(() => groups.count()).toBe(planted.exactGroups);
    expect(new URL(page.url()).hash).toContain('queue=exact');
    await page.keyboard.press('ArrowDown');
    const second = await groups.nth(1).getAttribute('data-key');
    await page.keyboard.press('k');
    await expect.poll(() => groups.count()).toBe(planted.exactGroups - 1);
    expect(await page.locator(`[data-testid="duplicate-group"][data-key="${second}"]`).count()).toBe(0);
    expect(duplicates()).toMatchObject({ exactGroups: planted.exactGroups - 1, dismissed: 1 });

    // A dismissal is not a dataset change: Z un-dismisses it rather than undoing an earlier edit.
    await page.keyboard.press('z');
    await expectToast(/Undone/);
    await expect.poll(() => groups.count()).toBe(planted.exactGroups);
    expect(duplicates()).toMatchObject({ exactGroups: planted.exactGroups, dismissed: 0, labelConflicts: planted.labelConflicts });
  });

  it('moves a leaking group together with M, and Ctrl+Z undoes it', async () => {
    await page.keyboard.press('Escape');
    // Test is locked by default, as in Splits.
    expect(await page.getByTestId('leakage-lock-test').isChecked()).toBe(true);
    await check('leakage').getByTestId('health-open-queue').click();
    const groups = page.getByTestId('duplicate-group');
    await expect.poll(() => groups.count()).toBe(planted.crossSplitGroups);
    const first = groups.first();
    expect(await first.getAttribute('data-cross-split')).toBe('true');
    // Move together defaults to the group's home split from the server's one rule: test is locked
    // by default (as in Splits), so the group goes into test.
    expect(await first.getByTestId('group-move-split').inputValue()).toBe('test');
    await page.keyboard.press('m');
    await expectToast(/together into test/);
    await expect.poll(() => groups.count()).toBe(planted.crossSplitGroups - 1);
    expect(duplicates().crossSplitGroups).toBe(planted.crossSplitGroups - 1);
    await page.keyboard.press('Control+z');
    await expectToast(/Undid/);
    await expect.poll(() => groups.count()).toBe(planted.crossSplitGroups);
    expect(duplicates().crossSplitGroups).toBe(planted.crossSplitGroups);
  });
});
