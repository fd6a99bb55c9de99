/**
 * The quick model on Fashion-MNIST (6,000 train / 1,000 test PNGs) with 10% of train labels
 * flipped by a seeded script: embedding images/s (cold cache), retrain seconds (warm cache), test
 * accuracy, and precision/recall of the likely-label-error list against the flipped set. Then the
 * same small CNN backbone through onnxruntime-node and through TF.js wasm, images/s side by side.
 *
 * No pretrained backbone can be downloaded here: the run uses the image baseline (LOUPE_OFFLINE=1),
 * and the ONNX/TF.js comparison uses a small CNN built by code (random weights).
 * Options: --views K (augmented views per train image; default 4, the app's default).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Core } from '../src/main/core';
import { selectBackend } from '../src/main/model/backend';
import type { BackboneSpec } from '../src/main/model/backbones';
import { loadExtractor } from '../src/main/model/extractors';
import { tinyCnn, tinyCnnOnnx } from '../src/main/model/tinyOnnx';
import { writeTinyCnnTfjs } from '../src/main/model/tinyTfjs';
import { benchDir, listFiles } from './fixtures';
import { fashionMnistFolders, flipTrainLabels } from './fashionMnist';

/** Runs the bench. */
export async function quickBench(args: string[]): Promise<void> {
  const viewsArg = args.indexOf('--views');
  const views = viewsArg >= 0 ? Number(args[viewsArg + 1]) : 4;
  process.env.LOUPE_OFFLINE = '1';
  const { dir } = await fashionMnistFolders(6000, 1000);
  const project = path.join(benchDir, 'fashion-quick.loupe');
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(project + suffix, { force: true });
  const core = new Core();
  try {
    await core.call('project:open', { file: project, create: true });
    const imported = await core.jobs.finished((await core.call('dataset:import', { source: dir })).jobId);
    if (imported.state !== 'done') throw new Error(`import ${imported.state}`);

    // Flip 10% of train labels (seed 2024), each to a different random class, through the change log.
    const { flipped, train } = await flipTrainLabels(core, 0.1);
    console.log(`dataset: ${train.length} train (no valid split in the folders: early stopping carves 10% of train), ${flipped.size} labels flipped (seed 2024), views ${views}`);

    const cold = await trainOnce(core, { backbone: 'baseline', views });
    const warm = await trainOnce(core, { backbone: 'baseline', views });
    const all = await core.call('review:queue', { kind: 'label', limit: 1, runId: warm.runId });
    const flaggedPage = await core.call('review:queue', { kind: 'label', limit: 2000, runId: warm.runId });
    const flaggedIds = new Set(flaggedPage.rows.map((r) => r.imageId as number));
    const hits = [...flaggedIds].filter((id) => flipped.has(id)).length;
    const precision = flaggedIds.size > 0 ? hits / flaggedIds.size : 0;
    const recall = flipped.size > 0 ? hits / flipped.size : 0;
    console.log(`backend: ${warm.run.backend?.name} (${warm.run.backend?.tried.filter((t) => !t.loaded).map((t) => `${t.name}: ${t.reason}`).join('; ')})`);
    console.log(`backbone: image baseline, ${warm.run.backbone?.dim} features (no pretrained backbone can be downloaded here; one would do better)`);
    console.log(`embedding (cold cache): ${cold.run.timings!.embedded} images in ${cold.run.timings!.embedSeconds.toFixed(1)} s = ${cold.run.timings!.imagesPerSecond!.toFixed(0)} images/s`);
    console.log(`first run: ${cold.seconds.toFixed(1)} s; retrain with a warm cache: ${warm.seconds.toFixed(1)} s (${warm.run.timings!.cached} vectors from the cache, ${warm.run.timings!.embedded} computed; training ${warm.run.timings!.trainSeconds.toFixed(1)} s)`);
    console.log(`accuracy: test ${(warm.run.metrics!.test!.accuracy * 100).toFixed(1)}%, train out-of-sample (against the flipped labels) ${(warm.run.metrics!.train!.accuracy * 100).toFixed(1)}%; test macro-F1 ${warm.run.metrics!.test!.macroF1.toFixed(3)}`);
    console.log(`likely label errors: ${all.total} flagged; precision ${(precision * 100).toFixed(1)}%, recall ${(recall * 100).toFixed(1)}% against the ${flipped.size} flipped (F1 ${(precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0).toFixed(3)})`);
    // The queue is ranked: its head, as long as confident learning's own estimate, is what a person reviews first.
    const estimated = all.estimate?.labels ?? 0;
    const head = flaggedPage.rows.slice(0, estimated).filter((r) => flipped.has(r.imageId as number)).length;
    console.log(
      `estimated wrong labels: ${estimated} (${((all.estimate?.noiseRate ?? 0) * 100).toFixed(1)}%; ${flipped.size} were flipped); precision of the first ${estimated} flags ${estimated > 0 ? ((head / estimated) * 100).toFixed(1) : '0'}%`,
    );
  } finally {
    await core.shutdown();
  }
  await backboneThroughput(dir);
}

async function trainOnce(core: Core, config: { backbone: string; views: number }) {
  const started = performance.now();
  const { jobId, runId } = await core.call('train:start', { config });
  const job = await core.jobs.finished(jobId);
  if (job.state !== 'done') throw new Error(`training ${job.state}: ${job.error?.message}`);
  const seconds = (performance.now() - started) / 1000;
  return { runId, seconds, run: await core.call('runs:get', { id: runId }) };
}

/** The same small CNN through onnxruntime-node and through TF.js wasm. */
async function backboneThroughput(dir: string): Promise<void> {
  const files = listFiles(path.join(dir, 'train')).slice(0, 2000);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-bench-'));
  try {
    const { tf, report } = await selectBackend(undefined, { order: ['wasm', 'cpu'] });
    const model = tinyCnn(64, 16, 32, 7);
    const onnxFile = path.join(work, 'tiny.onnx');
    fs.writeFileSync(onnxFile, tinyCnnOnnx(model));
    const tfjsFile = await writeTinyCnnTfjs(tf, model, path.join(work, 'tfjs'));
    const spec = (kind: 'onnx' | 'tfjs', file: string): BackboneSpec => ({ name: kind, key: kind, kind, file, inputSize: 64, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
    const rate = async (kind: 'onnx' | 'tfjs', file: string) => {
      const extractor = await loadExtractor(spec(kind, file), tf);
      const started = performance.now();
      for (let i = 0; i < files.length; i += extractor.batchSize) await extractor.embed(files.slice(i, i + extractor.batchSize));
      const perSecond = files.length / ((performance.now() - started) / 1000);
      await extractor.dispose();
      return perSecond;
    };
    const onnx = await rate('onnx', onnxFile);
    const tfjs = await rate('tfjs', tfjsFile);
    console.log(`small CNN backbone (2 conv layers, 64x64 input, built by code), ${files.length} PNGs, decode included:`);
    console.log(`  onnxruntime-node ${onnx.toFixed(0)} images/s | TF.js ${report.name} ${tfjs.toFixed(0)} images/s | ratio ${(onnx / tfjs).toFixed(2)}x`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
