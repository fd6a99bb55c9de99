/**
 * A regression project for the value-queue tests, written into a real project file as a quick
 * regression run would leave it: images with values and splits, embeddings that place images of
 * similar true value near each other, and a finished regression run whose out-of-sample
 * predictions know the true value (noise sd 1.5, but 15 above a true value of 70: a region where
 * the model is poor, so clean images there have large residuals) while planted images carry a wrong
 * value 25 to 40 away from the truth.
 */
import type { Db } from '../../../src/main/store/db';
import { datasetVersion } from '../../../src/main/store/changes';
import { seededRandom } from '../../../src/main/train/folds';
import { createRun, saveValuePredictions, updateRun, type ValuePredictionInput } from '../../../src/main/train/runs';
import { trainConfigSchema } from '../../../src/shared/train';
import type { ImageId, SplitName } from '../../../src/shared/types';

/** True values above this are predicted poorly (noise sd `hardNoise`). */
export const hardFrom = 70;
const easyNoise = 1.5;
const hardNoise = 15;
/** RBF centres of the embedding: one dimension per 10 units of the true value. */
const centres = Array.from({ length: 11 }, (_, c) => c * 10);

/** What the fixture wrote. */
export interface ValueProject {
  runId: number;
  /** Every image with an out-of-sample row, by id: its true value, the value it carries, its split. */
  images: Map<ImageId, { truth: number; value: number; split: SplitName; predicted: number }>;
  /** Images whose value was planted wrong (train+valid, one of them in the hard region; and test). */
  planted: ImageId[];
  /** A train image predicted in-sample, and one without a value: neither enters a queue. */
  inSample: ImageId;
  noValue: ImageId;
}

function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/**
 * Writes 240 images (splits train, train, train, train, valid, test in turn; paths v<seed>/...), their
 * embeddings when `embeddings` (under the key 'baseline-v1'), and a finished quick regression run
 * over them alone.
 */
export function writeValueProject(db: Db, options: { embeddings?: boolean; seed?: number } = {}): ValueProject {
  const seed = options.seed ?? 7;
  const random = seededRandom(seed);
  const insertImage = db.prepare(
    `INSERT INTO images (path, source, content_hash, perceptual_hash, width, height, bytes, mtime_ms, status, created_at)
     VALUES (?, 'synthetic', ?, ?, 32, 32, 1000, 1, 'active', 1)`,
  );
  const insertValue = db.prepare('INSERT INTO labels (image_id, class_id, value) VALUES (?, NULL, ?)');
  const insertSplit = db.prepare('INSERT INTO splits (image_id, split) VALUES (?, ?)');
  const insertEmbedding = db.prepare("INSERT INTO embeddings (backbone, content_hash, view, dim, vector) VALUES ('baseline-v1', ?, 0, ?, ?)");
  const splitOf = (i: number): SplitName => (['train', 'train', 'train', 'train', 'valid', 'test'] as const)[i % 6]!;
  const images = new Map<ImageId, { truth: number; value: number; split: SplitName; predicted: number }>();
  const planted: ImageId[] = [];
  const rows: ValuePredictionInput[] = [];
  const count = 240;
  const extra = 2;
  db.transaction(() => {
    for (let i = 0; i < count + extra; i++) {
      const truth = random() * 100;
      const split = i >= count ? 'train' : splitOf(i);
      // Paths and hashes of their own per seed: a second call adds a second set of images.
      const hash = `value-${seed}-${i}`;
      const id = Number(insertImage.run(`v${seed}/img_${String(i).padStart(4, '0')}.png`, hash, (0x1000000000000000n + BigInt(seed * 1000 + i) * 7919n).toString(16).slice(-16)).lastInsertRowid) as ImageId;
      insertSplit.run(id, split);
      if (options.embeddings ?? true) {
        const v = Float32Array.from(centres, (c) => Math.exp(-((truth - c) ** 2) / (2 * 8 ** 2)) + random() * 0.01);
        insertEmbedding.run(hash, v.length, Buffer.from(v.buffer));
      }
      const predicted = truth + gaussian(random) * (truth >= hardFrom ? hardNoise : easyNoise);
      if (i === count) {
        // Predicted by a head fitted on it: never out-of-sample, however large its residual.
        insertValue.run(id, truth + 60);
        rows.push({ imageId: id, split, fold: -1, actual: truth + 60, predicted, inSample: true });
        continue;
      }
      if (i === count + 1) {
        rows.push({ imageId: id, split, fold: -1, actual: null, predicted });
        continue;
      }
      // Planted: five easy train/valid images, one hard train image, two easy test images.
      const easyTrainValid = split !== 'test' && truth < hardFrom - 10 && planted.filter((p) => images.get(p)!.split !== 'test').length < 5 && i % 7 === 3;
      const hardTrain = split === 'train' && truth > hardFrom + 10 && !planted.some((p) => images.get(p)!.truth >= hardFrom) && i > 100;
      const easyTest = split === 'test' && truth < hardFrom - 10 && planted.filter((p) => images.get(p)!.split === 'test').length < 2 && i > 60;
      const shift = hardTrain ? 40 : 25 + random() * 10;
      const value = easyTrainValid || hardTrain || easyTest ? (truth < 50 ? truth + shift : truth - shift) : truth;
      insertValue.run(id, value);
      images.set(id, { truth, value, split, predicted });
      if (value !== truth) planted.push(id);
      rows.push({ imageId: id, split, fold: split === 'test' ? -1 : i % 5, actual: value, predicted });
    }
  })();
  const [inSample, noValue] = [rows[rows.length - 2]!.imageId, rows[rows.length - 1]!.imageId];
  const runId = createRun(db, trainConfigSchema.parse({ mode: 'quick', backbone: 'baseline' }), datasetVersion(db), 'regression');
  saveValuePredictions(db, runId, rows);
  updateRun(db, runId, { status: 'done', finishedAt: Date.now(), backbone: { name: 'baseline', kind: 'baseline', dim: centres.length, note: null } });
  return { runId, images, planted, inSample, noValue };
}

/** The images of the hard region that carry their true value. */
export function cleanHard(project: ValueProject): ImageId[] {
  return [...project.images].filter(([id, im]) => im.truth >= hardFrom && !project.planted.includes(id)).map(([id]) => id);
}
