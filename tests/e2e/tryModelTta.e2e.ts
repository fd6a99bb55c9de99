/**
 * "Try the model" with test-time augmentation: a finished full run's panel classifies a chosen
 * image plainly, then, with the TTA box ticked, as the mean over the seven test-time views, the
 * probability it shows equal to predictImages' TTA answer for the same net.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fullConfigSchema, ttaViews, type ModelUsed } from '../../src/shared/train';
import { Core } from '../../src/main/core';
import { buildNet, netSpec } from '../../src/main/model/archSpec';
import { evaluationConfig, predictImages } from '../../src/main/model/predict';
import { saveCheckpoint } from '../../src/main/train/checkpoints';
import { createRun, updateRun } from '../../src/main/train/runs';
import { writeImage } from '../helpers/fixtures';
import { launchBrowser, openApp, serve, type ServedApp } from './app';

let browser: Browser;
let app: ServedApp;
let page: Page;
const classes = ['cat', 'dog', 'eel'];
const model: ModelUsed = { arch: 'small-cnn', parameters: 0, inputShape: [12, 12, 3], normalize: { kind: 'unit' }, seed: 1, bestEpoch: 1, lastCheckpointEpoch: 1 };

beforeAll(async () => {
  await tf.setBackend('cpu');
  browser = await launchBrowser();
  app = await serve();
});
afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

describe('try the model with test-time augmentation', () => {
  it('shows the plain prediction, then the mean over the seven views when TTA is ticked', async () => {
    // A finished full run with a known net, written beside the server (another process on the same project).
    const net = buildNet(tf, netSpec('small-cnn', model.inputShape, classes.length), 5);
    const weights = await net.readWeights();
    const core = new Core();
    await core.call('project:open', { file: app.projectFile });
    const db = core.requireProject().db;
    const run = createRun(db, fullConfigSchema.parse({ mode: 'full', arch: 'small-cnn' }), 1, 'classification');
    updateRun(db, run, { status: 'done', classes, model, finishedAt: Date.now() });
    saveCheckpoint(db, run, 'best', { epoch: 1, step: 1, weights, optimizer: new Map(), state: { best: { epoch: 1, loss: 1 }, since: 0, optimizerScalars: {}, stopped: null } });
    await core.shutdown();
    const image = path.join(app.dir, 'try.png');
    await writeImage(image, 17, { width: 31, height: 22 });
    const [plain] = await predictImages(tf, net, classes, [{ name: 'try.png', input: image }], evaluationConfig(model));
    const [tta] = await predictImages(tf, net, classes, [{ name: 'try.png', input: image }], evaluationConfig(model), { tta: true });
    net.dispose();

    page = await openApp(browser, app);
    await page.getByTestId('nav-train').click();
    const result = page.getByTestId('try-model-result').first();
    await page.getByTestId('try-model-file').setInputFiles(image);
    await expect.poll(() => result.getAttribute('data-predicted'), { timeout: 60_000 }).toBe(plain!.predicted);
    expect(Number(await result.getAttribute('data-probability'))).toBeCloseTo(plain!.probability, 5);
    expect(await result.getAttribute('data-views')).toBe('');
    expect(await page.getByTestId('try-model-views').count()).toBe(0);

    await page.getByTestId('try-model-tta').check();
    await page.getByTestId('try-model-file').setInputFiles(image);
    await expect.poll(() => result.getAttribute('data-views'), { timeout: 60_000 }).toBe(ttaViews.join(' '));
    expect(await result.getAttribute('data-predicted')).toBe(tta!.predicted);
    expect(Number(await result.getAttribute('data-probability'))).toBeCloseTo(tta!.probability, 5);
    expect(await page.getByTestId('try-model-views').textContent()).toContain('mean of 7 views');
  });
});
