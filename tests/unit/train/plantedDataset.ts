/**
 * A generated dataset with planted label errors: three colour classes (red, green, blue) of noisy
 * textured squares, and a few images of one colour filed under another colour's folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { Core } from '../../../src/main/core';
import { seededRandom } from '../../../src/main/train/folds';

const colours: Record<string, [number, number, number]> = {
  red: [220, 40, 40],
  green: [60, 220, 60],
  blue: [20, 20, 130],
};

/** The class names. */
export const plantedClasses = Object.keys(colours);

/** Writes `perClass` images per class under root/<class>/, then `errors` mislabelled ones; returns the planted files (relative paths). */
export async function writePlantedDataset(root: string, perClass: number, errors: number, size = 24): Promise<string[]> {
  const random = seededRandom(99);
  const write = async (file: string, colour: [number, number, number]) => {
    const pixels = Buffer.alloc(size * size * 3);
    for (let i = 0; i < size * size; i++) {
      for (let c = 0; c < 3; c++) pixels[i * 3 + c] = Math.max(0, Math.min(255, colour[c]! + (random() - 0.5) * 120));
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    await sharp(pixels, { raw: { width: size, height: size, channels: 3 } }).png().toFile(file);
  };
  for (const name of plantedClasses) {
    for (let i = 0; i < perClass; i++) await write(path.join(root, name, `${name}_${i}.png`), colours[name]!);
  }
  const planted: string[] = [];
  for (let e = 0; e < errors; e++) {
    const truth = plantedClasses[e % plantedClasses.length]!;
    const wrong = plantedClasses[(e + 1) % plantedClasses.length]!;
    const rel = `${wrong}/planted_${e}_really_${truth}.png`;
    await write(path.join(root, rel), colours[truth]!);
    planted.push(rel);
  }
  return planted;
}

/**
 * A fresh Core with a new project at dir/p.loupe into which the planted dataset (written to
 * dir/data) was imported; the written paths of the planted errors come with it.
 */
export async function importPlantedProject(
  dir: string,
  perClass: number,
  options: { errors?: number; size?: number } = {},
): Promise<{ core: Core; planted: string[] }> {
  const core = new Core();
  const root = path.join(dir, 'data');
  const planted = await writePlantedDataset(root, perClass, options.errors ?? 0, options.size);
  await core.call('project:open', { file: path.join(dir, 'p.loupe'), create: true });
  const { jobId } = await core.call('dataset:import', { source: root });
  const job = await core.jobs.finished(jobId);
  if (job.state !== 'done') throw new Error(`importing the planted dataset ended ${job.state}: ${job.error?.message ?? ''}`);
  return { core, planted };
}
