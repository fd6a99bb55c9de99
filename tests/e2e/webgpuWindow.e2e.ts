/**
 * The GPU training page (what the app's hidden window loads) in Chromium on SwiftShader WebGPU:
 * the gradient-parity routine gives the cpu backend's logits, gradients, losses and weights within
 * tolerance, for the small CNN and the small ResNet; and a real full run trains there on batches
 * decoded by sharp here and sent over the page's MessagePort, leaving no tensors behind. Skipped,
 * with the reason in its name, where Chromium gives no WebGPU adapter.
 */
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FullAnswer, FullInput } from '../../src/main/train/full';
import { compareParity, parityCases, runParity, type ParityResult } from '../../src/main/train/parity';
import { trainerContentSecurityPolicy } from '../../electron.vite.config';
import { tempDir, writeImage } from '../helpers/fixtures';
import { TrainerPage } from './trainerPage';

// Probe once, before the tests are declared, so a machine without an adapter skips with the reason.
const probe = await TrainerPage.open().then(
  async (page) => {
    const result = { adapter: page.adapter, reason: page.reason };
    await page.close();
    return result;
  },
  (error: unknown) => ({ adapter: null, reason: `Chromium did not start (${error instanceof Error ? error.message.split('\n')[0] : String(error)})` }),
);

/**
 * Largest relative difference allowed against the cpu backend (float32 sums in another order).
 * Measured here: about 2e-6 for logits and gradients; Adam's normalised steps make the weights'
 * difference about 2e-5.
 */
const tolerance = { direct: 1e-5, afterSteps: 1e-4 };

describe('the built GPU training page', () => {
  it('carries its own strict CSP (no loupe: images, nothing but its scripts), which the page runs under below', () => {
    const html = fs.readFileSync(path.resolve(import.meta.dirname, '../../out/renderer/trainer.html'), 'utf8');
    const metas = [...html.matchAll(/<meta http-equiv="Content-Security-Policy" content="([^"]*)"/g)].map((m) => m[1]!.replaceAll('&#39;', "'"));
    expect(metas).toEqual([trainerContentSecurityPolicy]);
    expect(metas[0]).not.toMatch(/loupe:/);
  });
});

describe('GPU training page on Chromium WebGPU (SwiftShader)', () => {
  if (!probe.adapter || probe.reason) {
    it.skip(`skipped: no WebGPU adapter in Chromium here (${probe.reason ?? 'unknown'})`, () => {});
    return;
  }
  let page: TrainerPage;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    page = await TrainerPage.open();
  });
  afterAll(async () => {
    await page?.close();
  });

  it('reports its adapter', () => {
    expect(page.adapter).toMatchObject({ vendor: expect.any(String), architecture: expect.any(String), isFallbackAdapter: expect.any(Boolean) });
    // This machine's adapter is SwiftShader's.
    expect(`${page.adapter!.vendor} ${page.adapter!.architecture}`).toMatch(/swiftshader|google/i);
  });

  it.each(['small-cnn', 'resnet-small'] as const)('%s: logits, gradients, losses and weights match the cpu backend', async (arch) => {
    const reference = await runParity(tf, parityCases[arch]);
    const actual = await page.run<ParityResult>('parity', { arch });
    expect(actual.backend).toBe('webgpu');
    const diffs = compareParity(actual, reference);
    expect(diffs.filter((d) => d.field.startsWith('gradients/')).length).toBe(Object.keys(reference.gradients).length);
    const worst = (prefix: string) => diffs.find((d) => d.field.startsWith(prefix))!;
    for (const prefix of ['logits', 'losses', 'gradients/']) expect(worst(prefix).relative, JSON.stringify(worst(prefix))).toBeLessThan(tolerance.direct);
    for (const prefix of ['evalLogits', 'weights/']) expect(worst(prefix).relative, JSON.stringify(worst(prefix))).toBeLessThan(tolerance.afterSteps);
    expect(actual.losses[0]).not.toBe(actual.losses.at(-1));
    // The page's tensors did not grow across steps.
    expect(new Set(actual.tensorsAfterStep.slice(1)).size).toBe(1);
  });

  it('trains a full run on batches sent from here over the port, and frees its tensors', async () => {
    const dir = tempDir();
    const items: FullInput['items'] = [];
    for (let i = 0; i < 24; i++) {
      const file = path.join(dir, `img${i}.png`);
      // Two classes apart in colour (seeds far apart), 8x8.
      await writeImage(file, (i % 2) * 100 + i, { width: 8, height: 8 });
      items.push({ id: i + 1, file, width: 8, height: 8, label: i % 2, split: i < 16 ? 'train' : 'valid' });
    }
    const input = {
      runId: 1,
      classes: ['a', 'b'],
      items,
      config: { mode: 'full', arch: 'small-cnn', epochs: 2, batchSize: 4, learningRate: 3e-3, patience: 5, seed: 3, augment: 'light', backend: 'webgpu' },
      arch: 'small-cnn',
      inputSize: 8,
      channels: 3,
      resume: null,
    };
    const before = await page.run<{ numTensors: number }>('memory', {});
    const logs: string[] = [];
    const emitted: unknown[] = [];
    const answer = await page.run<Omit<FullAnswer, 'probabilities'> & { probabilities: number[] }>('full', input, logs, emitted).catch((error: unknown) => {
      throw new Error(`${String(error)}\nlogs: ${logs.join(' | ')}\npage errors: ${page.errors.join(' | ')}`);
    });
    expect(answer.epochs).toBe(2);
    expect(answer.steps).toBe(8);
    expect(answer.report).toMatchObject({ name: 'webgpu', host: 'window' });
    expect(answer.probabilities).toHaveLength(24 * 2);
    for (let r = 0; r < 24; r++) expect(answer.probabilities[r * 2]! + answer.probabilities[r * 2 + 1]!).toBeCloseTo(1, 4);
    expect(emitted.filter((m) => (m as { type: string }).type === 'checkpoint')).toHaveLength(2);
    expect(logs).toContain('TF.js backend: webgpu');
    const after = await page.run<{ numTensors: number }>('memory', {});
    expect(after.numTensors).toBe(before.numTensors);
    // Every batch stream the page opened was read to its end or closed.
    expect(page.openStreams).toBe(0);
    expect(page.errors).toEqual([]);
  });
});
