/**
 * Debian's dataset-fashion-mnist (IDX files) written out as PNG class folders, the way a user's
 * dataset arrives: .bench/fashion-mnist-<n>/{train,test}/<class>/<index>.png.
 */
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import type { Core } from '../src/main/core';
import { sql } from '../src/main/store/statements';
import { seededRandom } from '../src/main/train/folds';
import type { ImageId } from '../src/shared/types';
import { benchDir } from './fixtures';

/** Where Debian installs the dataset. */
export const fashionMnistDir = '/usr/share/datasets/fashion-mnist';

/** The ten class names, in label order. */
export const fashionClasses = [
  'T-shirt_top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle_boot',
];

interface Idx {
  images: Buffer;
  labels: Buffer;
  count: number;
}

function readIdx(prefix: 'train' | 't10k'): Idx {
  const images = gunzipSync(fs.readFileSync(path.join(fashionMnistDir, `${prefix}-images-idx3-ubyte.gz`)));
  const labels = gunzipSync(fs.readFileSync(path.join(fashionMnistDir, `${prefix}-labels-idx1-ubyte.gz`)));
  return { images: images.subarray(16), labels: labels.subarray(8), count: labels.readUInt32BE(4) };
}

/** Writes the first `train` training and `test` test images as split/class PNG folders; returns the folder and the expected counts. */
export async function fashionMnistFolders(
  train: number,
  test: number,
): Promise<{ dir: string; expected: Record<string, { train: number; test: number }> }> {
  if (!fs.existsSync(fashionMnistDir)) {
    throw new Error(`${fashionMnistDir} is missing: apt-get install dataset-fashion-mnist`);
  }
  const dir = path.join(benchDir, `fashion-mnist-${train}-${test}`);
  const expected: Record<string, { train: number; test: number }> = Object.fromEntries(
    fashionClasses.map((c) => [c, { train: 0, test: 0 }]),
  );
  const marker = path.join(dir, '.complete');
  const write = !fs.existsSync(marker);
  if (write) fs.rmSync(dir, { recursive: true, force: true });
  for (const [split, prefix, n] of [
    ['train', 'train', train],
    ['test', 't10k', test],
  ] as const) {
    const idx = readIdx(prefix);
    for (let i = 0; i < Math.min(n, idx.count); i++) {
      const name = fashionClasses[idx.labels[i]!]!;
      expected[name]![split]++;
      if (!write) continue;
      const folder = path.join(dir, split, name);
      fs.mkdirSync(folder, { recursive: true });
      const pixels = idx.images.subarray(i * 784, (i + 1) * 784);
      await sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } }).png().toFile(path.join(folder, `${i}.png`));
    }
  }
  if (write) fs.writeFileSync(marker, '');
  return { dir, expected };
}

/**
 * The benches' label noise: flips `rate` of the open project's train labels (seed 2024), each to
 * another random Fashion-MNIST class, through the change log; returns the flipped ids and the train
 * images with their labels before the flips (the truth).
 */
export async function flipTrainLabels(core: Core, rate: number): Promise<{ flipped: Set<number>; train: Array<{ id: ImageId; label: string }> }> {
  const { db } = core.requireProject();
  const train = sql(
    db,
    `SELECT i.id, c.name AS label FROM images i JOIN labels l ON l.image_id = i.id JOIN classes c ON c.id = l.class_id
      JOIN splits s ON s.image_id = i.id WHERE s.split = 'train' ORDER BY i.id`,
  ).all() as Array<{ id: ImageId; label: string }>;
  const random = seededRandom(2024);
  const flipped = new Set<number>();
  const byTarget = new Map<string, ImageId[]>();
  for (const image of train) {
    if (random() >= rate) continue;
    const others = fashionClasses.filter((c) => c !== image.label);
    const target = others[Math.floor(random() * others.length)]!;
    byTarget.set(target, [...(byTarget.get(target) ?? []), image.id]);
    flipped.add(image.id);
  }
  for (const [className, ids] of byTarget) await core.call('images:relabel', { ids, className });
  return { flipped, train };
}
