/**
 * Regression on Fashion-MNIST (6,000 train / 1,000 test PNGs): the target of each image is the mean
 * brightness of its garment (pixels above 25), and 5% of the targets are corrupted by a seeded
 * script (moved 40 to 80 grey levels, away from the nearer end of the range). Prints out-of-sample
 * MAE and R² (k-fold over train) and test MAE and R² beside the train-mean baseline, the precision at
 * k = the number corrupted of the likely-target-error queue and of the plain residual queue, and the
 * warm retrain time. Peer, in the same run: ridge regression in numpy on the raw pixels (5-fold
 * out-of-sample on train, then test), the model a practitioner would try first.
 *
 * No pretrained backbone can be downloaded here: the run uses the image baseline (LOUPE_OFFLINE=1).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { Core } from '../src/main/core';
import { seededRandom } from '../src/main/train/folds';
import type { RegressionSplitMetrics } from '../src/shared/regression';
import { benchDir } from './fixtures';
import { fashionMnistFolders } from './fashionMnist';

/** Pixels above this are the garment; Fashion-MNIST's background is 0 with faint noise. */
const garmentThreshold = 25;
const corruptRate = 0.05;

interface Row {
  rel: string;
  split: 'train' | 'test';
  value: number;
  given: number;
}

/** The CSV of path,value,split beside the folders, with the truth and the corrupted rows. */
async function writeTargets(dir: string): Promise<{ csv: string; rows: Row[]; corrupted: Set<string> }> {
  const rows: Row[] = [];
  for (const split of ['train', 'test'] as const) {
    for (const cls of fs.readdirSync(path.join(dir, split)).sort()) {
      for (const f of fs.readdirSync(path.join(dir, split, cls)).sort()) {
        const rel = path.join(split, cls, f);
        const { data } = await sharp(path.join(dir, rel)).greyscale().raw().toBuffer({ resolveWithObject: true });
        let sum = 0;
        let n = 0;
        for (const p of data) {
          if (p <= garmentThreshold) continue;
          sum += p;
          n++;
        }
        const value = n > 0 ? sum / n : 0;
        rows.push({ rel, split, value, given: value });
      }
    }
  }
  const random = seededRandom(2025);
  const corrupted = new Set<string>();
  for (const row of rows) {
    if (random() >= corruptRate) continue;
    const shift = 40 + random() * 40;
    row.given = row.value > 128 ? row.value - shift : row.value + shift;
    corrupted.add(row.rel);
  }
  const csv = path.join(dir, 'brightness.csv');
  fs.writeFileSync(csv, ['path,value,split', ...rows.map((r) => `${r.rel},${r.given.toFixed(3)},${r.split}`)].join('\n') + '\n');
  return { csv, rows, corrupted };
}

const peerScript = String.raw`
import sys, json, numpy as np
from PIL import Image
rows = json.load(open(sys.argv[1]))
root = sys.argv[2]
X = np.stack([np.asarray(Image.open(root + '/' + r['rel']).convert('L'), dtype=np.float32).ravel() / 255 for r in rows])
y = np.array([r['given'] for r in rows], dtype=np.float64)
split = np.array([r['split'] for r in rows])
tr, te = np.where(split == 'train')[0], np.where(split == 'test')[0]
def fit(idx, lam=10.0):
    A = np.hstack([X[idx], np.ones((len(idx), 1), np.float32)])
    w = np.linalg.solve(A.T @ A + lam * np.eye(A.shape[1]), A.T @ y[idx])
    return lambda j: np.hstack([X[j], np.ones((len(j), 1), np.float32)]) @ w
rng = np.random.default_rng(0)
folds = rng.permutation(len(tr)) % 5
oos = np.zeros(len(tr))
for f in range(5):
    model = fit(tr[folds != f]); oos[folds == f] = model(tr[folds == f])
test = fit(tr)(te)
def m(p, t): return {'mae': float(np.mean(np.abs(p - t))), 'r2': float(1 - np.sum((p - t) ** 2) / np.sum((t - t.mean()) ** 2))}
print(json.dumps({'train': m(oos, y[tr]), 'test': m(test, y[te])}))
`;

function peer(rows: Row[], dir: string): { train: { mae: number; r2: number }; test: { mae: number; r2: number } } | string {
  const work = path.join(benchDir, 'regression-peer');
  fs.mkdirSync(work, { recursive: true });
  fs.writeFileSync(path.join(work, 'rows.json'), JSON.stringify(rows));
  fs.writeFileSync(path.join(work, 'peer.py'), peerScript);
  for (const python of ['/usr/bin/python3', 'python3']) {
    const run = spawnSync(python, [path.join(work, 'peer.py'), path.join(work, 'rows.json'), dir], { encoding: 'utf8' });
    if (run.status === 0) return JSON.parse(run.stdout.trim()) as { train: { mae: number; r2: number }; test: { mae: number; r2: number } };
    if (python === 'python3') return `numpy peer unavailable: ${run.stderr.trim().split('\n').pop()}`;
  }
  return 'numpy peer unavailable';
}

const fmt = (m: RegressionSplitMetrics | null | undefined) =>
  m ? `MAE ${m.mae.toFixed(2)}, RMSE ${m.rmse.toFixed(2)}, R² ${m.r2.toFixed(3)}, median AE ${m.medianAe.toFixed(2)} (mean baseline: MAE ${m.baseline.mae.toFixed(2)}, R² ${m.baseline.r2.toFixed(3)})` : 'none';

/** Runs the bench. */
export async function regressionBench(): Promise<void> {
  process.env.LOUPE_OFFLINE = '1';
  const { dir } = await fashionMnistFolders(6000, 1000);
  const { csv, rows, corrupted } = await writeTargets(dir);
  const values = rows.map((r) => r.value);
  console.log(
    `dataset: ${rows.length} images, target = mean brightness of the garment (pixels > ${garmentThreshold}), range ${Math.min(...values).toFixed(1)}..${Math.max(...values).toFixed(1)}; ${corrupted.size} targets corrupted (seed 2025, ±40..80)`,
  );
  const file = path.join(benchDir, 'fashion-regression.loupe');
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
  const core = new Core();
  try {
    await core.call('project:open', { file, create: true });
    const imported = await core.jobs.finished((await core.call('dataset:import', { source: csv, kind: 'csv-values' })).jobId);
    if (imported.state !== 'done') throw new Error(`import ${imported.state}: ${imported.error?.message}`);
    console.log(`task: ${(await core.call('project:current', {}))?.task}`);
    const train = async () => {
      const started = performance.now();
      const { jobId, runId } = await core.call('train:start', { config: { backbone: 'baseline' } });
      const job = await core.jobs.finished(jobId);
      if (job.state !== 'done') throw new Error(`training ${job.state}: ${job.error?.message}`);
      return { runId, seconds: (performance.now() - started) / 1000 };
    };
    const cold = await train();
    const warm = await train();
    const run = await core.call('runs:get', { id: warm.runId, trust: false });
    const metrics = run.valueMetrics;
    console.log(`first run ${cold.seconds.toFixed(1)} s; warm retrain ${warm.seconds.toFixed(1)} s (training ${run.timings?.trainSeconds.toFixed(1)} s, ${run.timings?.cached} vectors cached)`);
    console.log(`train out-of-sample (k-fold, against the corrupted targets): ${fmt(metrics?.train)}`);
    console.log(`test (against the corrupted targets): ${fmt(metrics?.test)}`);
    const { db } = core.requireProject();
    const pathOf = new Map((db.prepare('SELECT id, path FROM images').all() as Array<{ id: number; path: string }>).map((r) => [r.id, r.path]));
    const precisionAt = async (kind: 'target' | 'residual') => {
      const page = await core.call('review:values', { runId: warm.runId, kind, limit: corrupted.size });
      const hits = page.rows.filter((r) => corrupted.has(pathOf.get(r.imageId)!)).length;
      return { hits, precision: hits / corrupted.size, method: page.method };
    };
    const target = await precisionAt('target');
    const residual = await precisionAt('residual');
    console.log(`likely target errors, precision at k = ${corrupted.size}: ${(target.precision * 100).toFixed(1)}% (${target.hits} corrupted) — ${target.method}`);
    console.log(`largest residuals, precision at k = ${corrupted.size}: ${(residual.precision * 100).toFixed(1)}% (${residual.hits} corrupted)`);
    // Against the truth: how well the model fits once the corrupted rows are left out of the scoring.
    const points = await core.call('runs:values', { runId: warm.runId, limit: 100_000 });
    const truthOf = new Map(rows.map((r) => [r.rel, r.value]));
    const clean = points.points.filter((p) => p.split === 'train' && p.fold >= 0 && !corrupted.has(pathOf.get(p.imageId)!));
    const mae = clean.reduce((s, p) => s + Math.abs(p.predicted - truthOf.get(pathOf.get(p.imageId)!)!), 0) / Math.max(1, clean.length);
    console.log(`train out-of-sample MAE against the true targets (uncorrupted rows): ${mae.toFixed(2)}`);
    const numpy = peer(rows, dir);
    if (typeof numpy === 'string') console.log(numpy);
    else {
      console.log(`peer: numpy ridge on raw pixels: train out-of-sample MAE ${numpy.train.mae.toFixed(2)}, R² ${numpy.train.r2.toFixed(3)}; test MAE ${numpy.test.mae.toFixed(2)}, R² ${numpy.test.r2.toFixed(3)}`);
      if (metrics?.test) console.log(`ratio Loupe / peer, test MAE: ${(metrics.test.mae / numpy.test.mae).toFixed(2)}x`);
    }
  } finally {
    await core.shutdown();
  }
}
