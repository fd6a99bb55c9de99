/**
 * A generated dataset with planted health problems, for the CLI and e2e tests of the health
 * checks: split/class folders of distinct noise images (64x64: distinct perceptual hashes, no two
 * alike) plus byte copies across splits (leakage), a copy within one split, a copy under another
 * class (a label conflict), a brightness-shifted look-alike (a near duplicate), and a very dark, a
 * tiny and an odd-aspect image. `planted` says what the checks should find.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

/** What was planted, as the health report should count it. */
export const planted = {
  /** A: train+test; B: train+valid+test; C: two in train (same class); D: the label conflict (train, two classes). */
  exactGroups: 4,
  nearGroups: 1,
  crossSplitGroups: 2,
  labelConflicts: 1,
  /** Groups crossing each split pair. */
  bySplitPair: { 'train/valid': 1, 'train/test': 2, 'valid/test': 1 } as Record<string, number>,
  /** The planted bad images, by the check that should flag them. */
  dark: ['train/cat/dark.png'],
  tiny: ['train/dog/tiny.png'],
  oddAspect: ['train/fox/wide.png'],
  /** The leaking copies (relative to the source folder): what a move-mode fix moves into train. */
  leakingCopies: ['test/cat/cat_0_copy.png', 'valid/dog/dog_1_copy.png', 'test/dog/dog_1_copy2.png'],
} as const;

/** Seeded noise, optionally scaled into [0, top). */
function noise(seed: number, width: number, height: number, top = 256): Buffer {
  const pixels = Buffer.alloc(width * height * 3);
  let state = (seed * 2654435761) >>> 0;
  for (let k = 0; k < pixels.length; k++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    pixels[k] = Math.floor(((state >>> 24) * top) / 256);
  }
  return pixels;
}

async function writeRaw(file: string, pixels: Buffer, width: number, height: number): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp(pixels, { raw: { width, height, channels: 3 } }).png().toFile(file);
}

/**
 * Writes the dataset under `root` (train/valid/test folders of cat, dog, fox: `perClass` each,
 * 3 in 5 train) and returns how many images it holds.
 */
export async function writeHealthDataset(root: string, perClass = 15): Promise<number> {
  const side = 64;
  let seed = 1;
  let count = 0;
  for (const name of ['cat', 'dog', 'fox']) {
    for (let i = 0; i < perClass; i++) {
      const split = i % 5 === 3 ? 'valid' : i % 5 === 4 ? 'test' : 'train';
      await writeRaw(path.join(root, split, name, `${name}_${i}.png`), noise(seed++, side, side), side, side);
      count++;
    }
  }
  const copy = (from: string, to: string) => {
    fs.mkdirSync(path.dirname(path.join(root, to)), { recursive: true });
    fs.copyFileSync(path.join(root, from), path.join(root, to));
    count++;
  };
  // A: train and test. B: train, valid and test. C: twice in train. D: train, under two classes.
  copy('train/cat/cat_0.png', 'test/cat/cat_0_copy.png');
  copy('train/dog/dog_1.png', 'valid/dog/dog_1_copy.png');
  copy('train/dog/dog_1.png', 'test/dog/dog_1_copy2.png');
  copy('train/fox/fox_0.png', 'train/fox/fox_0_copy.png');
  copy('train/cat/cat_1.png', 'train/dog/cat_1_as_dog.png');
  // E: the same noise 8 grey levels brighter: other pixels, the same look.
  const base = noise(1000, side, side);
  await writeRaw(path.join(root, 'train', 'fox', 'fox_look.png'), base, side, side);
  await writeRaw(path.join(root, 'train', 'fox', 'fox_look_brighter.png'), Buffer.from(base.map((v) => Math.min(255, v + 8))), side, side);
  count += 2;
  // Bad images: very dark, tiny, and 4:1 with the same pixel count as the rest.
  await writeRaw(path.join(root, 'train', 'cat', 'dark.png'), noise(2000, side, side, 24), side, side);
  await writeRaw(path.join(root, 'train', 'dog', 'tiny.png'), noise(2001, 12, 12), 12, 12);
  await writeRaw(path.join(root, 'train', 'fox', 'wide.png'), noise(2002, 128, 32), 128, 32);
  count += 3;
  return count;
}
