import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { contentHash, differenceHash, readImageFacts } from '../../../src/main/dataset/imageInfo';
import { LoupeError } from '../../../src/shared/errors';
import { tempDir, writeHugeHeaderPng, writeImage } from '../../helpers/fixtures';

/** Raw greyscale-as-RGB pixels from a function of (x, y). */
function pixels(width: number, height: number, f: (x: number, y: number) => number): Buffer {
  const out = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) out.fill(f(x, y), (y * width + x) * 3, (y * width + x) * 3 + 3);
  }
  return out;
}

describe('differenceHash', () => {
  it('is 16 hex digits: all ones for a left-to-right fall, all zeros for a rise', () => {
    expect(differenceHash(pixels(90, 80, (x) => 255 - x * 2), 90, 80, 3)).toBe('ffffffffffffffff');
    expect(differenceHash(pixels(90, 80, (x) => x * 2), 90, 80, 3)).toBe('0000000000000000');
  });

  it('is null for a flat picture, whose bits would only be compression noise', () => {
    expect(differenceHash(pixels(90, 80, () => 120), 90, 80, 3)).toBeNull();
    // Within a few grey levels: JPEG noise on a flat colour must not make unrelated images "duplicates".
    expect(differenceHash(pixels(90, 80, (x, y) => 120 + ((x + y) % 3)), 90, 80, 3)).toBeNull();
  });

  it('does not invent structure in pictures smaller than its 9x8 grid', () => {
    // Tiny thumbnails (a 4x4 icon is never enlarged): every cell averages real pixels.
    expect(differenceHash(pixels(4, 4, () => 120), 4, 4, 3)).toBeNull();
    expect(differenceHash(pixels(3, 40, (_x, y) => y * 6), 3, 40, 3)).toBe('0000000000000000');
    expect(differenceHash(pixels(4, 4, (x) => 255 - x * 60), 4, 4, 3)).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('readImageFacts', () => {
  it('measures an image and hashes its bytes', async () => {
    const file = path.join(tempDir(), 'a.png');
    await writeImage(file, 3, { width: 50, height: 30 });
    const facts = await readImageFacts(file);
    expect(facts).toMatchObject({ width: 50, height: 30, channels: 3, format: 'png' });
    expect(facts.contentHash).toBe(contentHash(fs.readFileSync(file)));
    expect(facts.perceptualHash).toMatch(/^[0-9a-f]{16}$/);
    expect(await sharp(facts.thumbnail.webp).metadata()).toMatchObject({ format: 'webp', width: 50, height: 30 });
  });

  it('refuses bad files with UNSUPPORTED_IMAGE and a reason', async () => {
    const dir = tempDir();
    const text = path.join(dir, 'x.png');
    fs.writeFileSync(text, 'hello');
    const bomb = path.join(dir, 'bomb.png');
    await writeHugeHeaderPng(bomb, 20000, 20000);
    const cases: [string, RegExp][] = [
      [text, /not an image/],
      [bomb, /larger than the 100,000,000 pixel limit/],
    ];
    for (const [file, reason] of cases) {
      const error = await readImageFacts(file).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(LoupeError);
      expect((error as LoupeError).code).toBe('UNSUPPORTED_IMAGE');
      expect((error as LoupeError).message).toMatch(reason);
      expect((error as LoupeError).details).toEqual({ file });
    }
  });
});
