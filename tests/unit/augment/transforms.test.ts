import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { presetConfig, type AugmentConfig, type AugmentTransform } from '../../../src/shared/augment';
import { applyAugment, augmentImage, type RawImage } from '../../../src/main/augment/apply';
import { planAugment, type AugmentPlan } from '../../../src/main/augment/plan';
import { rngFor, sfc32 } from '../../../src/main/augment/random';

type Rgb = [number, number, number];

/** A lossless PNG from a function of (x, y). */
async function png(width: number, height: number, colour: (x: number, y: number) => Rgb): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(colour(x, y), (y * width + x) * 3);
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

const at = (image: RawImage, x: number, y: number): Rgb => {
  const o = (y * image.width + x) * 3;
  return [image.data[o]!, image.data[o + 1]!, image.data[o + 2]!];
};

function config(width: number, height: number, transforms: AugmentTransform[] = [], resize: AugmentConfig['resize'] = 'squish'): AugmentConfig {
  return { ...presetConfig('none'), inputSize: { width, height }, resize, transforms };
}

/** The identity plan of a source at its own size, to override one field at a time. */
function identity(width: number, height: number, overrides: Partial<AugmentPlan> = {}): AugmentPlan {
  return { ...planAugment(config(width, height), sfc32(1, 2, 3, 4), width, height), ...overrides };
}

function meanOf(image: RawImage): number {
  let sum = 0;
  for (const v of image.data) sum += v;
  return sum / image.data.length;
}

function saturationOf(image: RawImage): number {
  let sum = 0;
  for (let i = 0; i < image.data.length; i += 3) {
    const [r, g, b] = [image.data[i]!, image.data[i + 1]!, image.data[i + 2]!];
    sum += Math.max(r, g, b) - Math.min(r, g, b);
  }
  return sum / (image.data.length / 3);
}

// Every pixel distinct and nothing symmetric: value encodes (x, y).
const pattern = (x: number, y: number): Rgb => [x * 20 + 5, y * 20 + 5, (x * 7 + y * 13) % 256];

describe('geometric transforms', () => {
  it('leaves an image untouched when nothing is drawn and the size already fits', async () => {
    const input = await png(8, 6, pattern);
    const out = await applyAugment(input, identity(8, 6));
    for (let y = 0; y < 6; y++) for (let x = 0; x < 8; x++) expect(at(out, x, y)).toEqual(pattern(x, y));
  });

  it('hflip mirrors left-right and vflip up-down', async () => {
    const input = await png(8, 6, pattern);
    const h = await applyAugment(input, identity(8, 6, { flipH: true }));
    const v = await applyAugment(input, identity(8, 6, { flipV: true }));
    for (let y = 0; y < 6; y++) {
      for (let x = 0; x < 8; x++) {
        expect(at(h, x, y)).toEqual(pattern(7 - x, y));
        expect(at(v, x, y)).toEqual(pattern(x, 5 - y));
      }
    }
    // Through the config: p = 1 always flips, p = 0 never does.
    const always = await augmentImage({ input, width: 8, height: 6 }, config(8, 6, [{ kind: 'hflip', p: 1 }]), 7, 0, 1);
    expect(always.data.equals(h.data)).toBe(true);
    const never = await augmentImage({ input, width: 8, height: 6 }, config(8, 6, [{ kind: 'hflip', p: 0 }]), 7, 0, 1);
    expect(at(never, 0, 0)).toEqual(pattern(0, 0));
  });

  it('a 90-degree rotation lands every pixel where it should (clockwise)', async () => {
    const input = await png(8, 8, pattern);
    for (const fill of ['constant', 'edge', 'reflect'] as const) {
      const out = await applyAugment(input, identity(8, 8, { rotate: { degrees: 90, fill, color: [0, 0, 0] } }));
      expect([out.width, out.height]).toEqual([8, 8]);
      for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) expect(at(out, x, y), `${fill} ${x},${y}`).toEqual(pattern(y, 7 - x));
    }
  });

  it('fills the corners of a rotation with the edge, a reflection or a constant colour', async () => {
    const input = await png(32, 32, () => [200, 100, 50]);
    const corners = async (fill: 'edge' | 'reflect' | 'constant') => {
      const out = await applyAugment(input, identity(32, 32, { rotate: { degrees: 30, fill, color: [0, 255, 0] } }));
      return [at(out, 0, 0), at(out, 31, 31), at(out, 16, 16)];
    };
    for (const fill of ['edge', 'reflect'] as const) {
      for (const pixel of await corners(fill)) for (const [i, v] of pixel.entries()) expect(Math.abs(v - [200, 100, 50][i]!)).toBeLessThanOrEqual(2);
    }
    const constant = await corners('constant');
    expect(constant[0]).toEqual([0, 255, 0]);
    expect(constant[1]).toEqual([0, 255, 0]);
    expect(constant[2]).toEqual([200, 100, 50]);
  });

  it('random resized crops stay inside the image and respect the scale and ratio ranges over many draws', () => {
    const t: AugmentTransform = { kind: 'randomResizedCrop', p: 1, scale: [0.2, 0.6], ratio: [0.75, 1.333] };
    const cfg = config(224, 224, [t]);
    const [width, height] = [512, 384];
    let fallbacks = 0;
    const areas: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const { crop } = planAugment(cfg, rngFor(3, i, 1), width, height);
      expect(crop.left).toBeGreaterThanOrEqual(0);
      expect(crop.top).toBeGreaterThanOrEqual(0);
      expect(crop.width).toBeGreaterThan(0);
      expect(crop.height).toBeGreaterThan(0);
      expect(crop.left + crop.width).toBeLessThanOrEqual(width);
      expect(crop.top + crop.height).toBeLessThanOrEqual(height);
      const area = (crop.width * crop.height) / (width * height);
      const ratio = crop.width / crop.height;
      // Rounding to whole pixels moves area and ratio by well under 2%.
      expect(area).toBeGreaterThanOrEqual(0.2 * 0.98);
      expect(area).toBeLessThanOrEqual(0.6 * 1.02);
      expect(ratio).toBeGreaterThanOrEqual(0.75 * 0.98);
      expect(ratio).toBeLessThanOrEqual(1.333 * 1.02);
      if (crop.left === Math.floor((width - crop.width) / 2) && crop.top === Math.floor((height - crop.height) / 2)) fallbacks++;
      areas.push(area);
    }
    // Draws spread over the range rather than sticking to one end.
    expect(Math.min(...areas)).toBeLessThan(0.25);
    expect(Math.max(...areas)).toBeGreaterThan(0.55);
    expect(fallbacks).toBeLessThan(100);
    // Tiny images with impossible ratios fall back to a centred crop that still fits.
    const odd = planAugment(config(8, 8, [{ kind: 'randomResizedCrop', p: 1, scale: [0.9, 1], ratio: [5, 10] }]), rngFor(1, 1, 1), 10, 100);
    expect(odd.crop.left + odd.crop.width).toBeLessThanOrEqual(10);
    expect(odd.crop.top + odd.crop.height).toBeLessThanOrEqual(100);
  });

  it('crops the chosen region: a crop of a quadrant shows only that quadrant', async () => {
    const quadrants = (x: number, y: number): Rgb => (x < 20 ? (y < 10 ? [255, 0, 0] : [0, 255, 0]) : y < 10 ? [0, 0, 255] : [255, 255, 0]);
    const input = await png(40, 20, quadrants);
    const out = await applyAugment(input, identity(40, 20, { crop: { left: 20, top: 10, width: 20, height: 10 }, output: { width: 8, height: 8 } }));
    expect([out.width, out.height]).toEqual([8, 8]);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) expect(at(out, x, y)).toEqual([255, 255, 0]);
  });

  it('squish, crop and pad give the input size with the right content', async () => {
    // Four vertical stripes, 10 px each: A B C D.
    const stripes: Rgb[] = [
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
      [255, 255, 255],
    ];
    const input = await png(40, 20, (x) => stripes[Math.floor(x / 10)]!);
    const source = { input, width: 40, height: 20 };
    const near = (a: Rgb, b: Rgb) => a.every((v, i) => Math.abs(v - b[i]!) <= 3);

    const squish = await augmentImage(source, config(20, 20, [], 'squish'), 1, 0, 1);
    expect([squish.width, squish.height]).toEqual([20, 20]);
    // Each stripe becomes 5 px wide over the full height.
    for (const [i, colour] of stripes.entries()) {
      expect(near(at(squish, i * 5 + 2, 1), colour)).toBe(true);
      expect(near(at(squish, i * 5 + 2, 18), colour)).toBe(true);
    }

    const crop = await augmentImage(source, config(20, 20, [], 'crop'), 1, 0, 1);
    expect([crop.width, crop.height]).toEqual([20, 20]);
    // The centre 20 px: stripes B and C only.
    expect(near(at(crop, 3, 10), stripes[1]!)).toBe(true);
    expect(near(at(crop, 16, 10), stripes[2]!)).toBe(true);

    const padded = await augmentImage(source, { ...config(20, 20, [], 'pad'), padColor: [9, 9, 9] }, 1, 0, 1);
    expect([padded.width, padded.height]).toEqual([20, 20]);
    // Letterbox: 10 px of content in the middle, the pad colour above and below.
    for (const x of [2, 7, 12, 17]) {
      expect(at(padded, x, 1)).toEqual([9, 9, 9]);
      expect(at(padded, x, 18)).toEqual([9, 9, 9]);
    }
    for (const [i, colour] of stripes.entries()) expect(near(at(padded, i * 5 + 2, 10), colour)).toBe(true);
  });
});

describe('photometric transforms', () => {
  const colourful = (x: number, y: number): Rgb => [60 + x * 4, 140 - y * 2, 90 + ((x + y) % 40)];

  it('brightness, contrast and gamma move the mean the right way', async () => {
    const input = await png(32, 32, colourful);
    const plain = await applyAugment(input, identity(32, 32));
    const brighter = await applyAugment(input, identity(32, 32, { brightness: 1.3 }));
    const darker = await applyAugment(input, identity(32, 32, { brightness: 0.7 }));
    expect(meanOf(brighter)).toBeGreaterThan(meanOf(plain) + 10);
    expect(meanOf(darker)).toBeLessThan(meanOf(plain) - 10);
    const gammaUp = await applyAugment(input, identity(32, 32, { gamma: 1.5 }));
    const gammaDown = await applyAugment(input, identity(32, 32, { gamma: 0.6 }));
    expect(meanOf(gammaUp)).toBeLessThan(meanOf(plain) - 5);
    expect(meanOf(gammaDown)).toBeGreaterThan(meanOf(plain) + 5);
    // Contrast spreads values away from mid-grey.
    const spread = (image: RawImage) => image.data.reduce((s, v) => s + Math.abs(v - 128), 0) / image.data.length;
    expect(spread(await applyAugment(input, identity(32, 32, { contrast: 1.5 })))).toBeGreaterThan(spread(plain) + 5);
    expect(spread(await applyAugment(input, identity(32, 32, { contrast: 0.5 })))).toBeLessThan(spread(plain) - 5);
  });

  it('saturation, hue and grayscale change colour the right way', async () => {
    const input = await png(32, 32, colourful);
    const plain = await applyAugment(input, identity(32, 32));
    expect(saturationOf(await applyAugment(input, identity(32, 32, { saturation: 1.6 })))).toBeGreaterThan(saturationOf(plain) + 5);
    expect(saturationOf(await applyAugment(input, identity(32, 32, { saturation: 0.4 })))).toBeLessThan(saturationOf(plain) - 5);
    const grey = await applyAugment(input, identity(32, 32, { grayscale: true }));
    for (let i = 0; i < grey.data.length; i += 3) {
      expect(grey.data[i]).toBe(grey.data[i + 1]);
      expect(grey.data[i + 1]).toBe(grey.data[i + 2]);
    }
    // A pure red shifted in hue gains green or blue and loses its pure redness.
    const red = await png(8, 8, () => [220, 30, 30]);
    const shifted = at(await applyAugment(red, identity(8, 8, { hue: 60 })), 4, 4);
    expect(shifted[1]).toBeGreaterThan(60);
    const blurred = await applyAugment(await png(16, 16, (x) => (x < 8 ? [0, 0, 0] : [255, 255, 255])), identity(16, 16, { blurSigma: 2 }));
    expect(at(blurred, 8, 8)[0]).toBeGreaterThan(20);
    expect(at(blurred, 8, 8)[0]).toBeLessThan(235);
  });

  it('draws photometric factors inside the configured ranges', () => {
    const cfg = config(32, 32, [
      { kind: 'brightness', p: 1, amount: 0.2 },
      { kind: 'saturation', p: 1, amount: 0.5 },
      { kind: 'hue', p: 1, degrees: 10 },
      { kind: 'gamma', p: 1, range: [0.8, 1.25] },
      { kind: 'rotate', p: 1, degrees: 15, fill: 'edge' },
    ]);
    for (let i = 0; i < 500; i++) {
      const plan = planAugment(cfg, rngFor(1, i, 9), 64, 64);
      expect(plan.brightness).toBeGreaterThanOrEqual(0.8);
      expect(plan.brightness).toBeLessThanOrEqual(1.2);
      expect(plan.saturation).toBeGreaterThanOrEqual(0.5);
      expect(plan.saturation).toBeLessThanOrEqual(1.5);
      expect(Math.abs(plan.hue)).toBeLessThanOrEqual(10);
      expect(plan.gamma).toBeGreaterThanOrEqual(0.8);
      expect(plan.gamma).toBeLessThanOrEqual(1.25);
      expect(Math.abs(plan.rotate?.degrees ?? 0)).toBeLessThanOrEqual(15);
    }
  });
});

describe('determinism', () => {
  it('gives byte-identical output for the same image, config and seed, whatever sharp’s thread count', async () => {
    const input = await png(96, 64, (x, y) => [(x * 3) % 256, (y * 5) % 256, (x * y) % 256]);
    const cfg = { ...presetConfig('strong'), inputSize: { width: 48, height: 40 } };
    const source = { input, width: 96, height: 64 };
    const first = await Promise.all(Array.from({ length: 8 }, (_, epoch) => augmentImage(source, cfg, 42, epoch, 5)));
    const before = sharp.concurrency();
    sharp.concurrency(4);
    try {
      const again = await Promise.all(Array.from({ length: 8 }, (_, epoch) => augmentImage(source, cfg, 42, epoch, 5)));
      for (const [i, image] of again.entries()) expect(image.data.equals(first[i]!.data), `epoch ${i}`).toBe(true);
    } finally {
      sharp.concurrency(before);
    }
    // Each (epoch, image) pair draws its own augmentation.
    const distinct = new Set(first.map((image) => image.data.toString('base64')));
    expect(distinct.size).toBeGreaterThan(5);
    const otherImage = await augmentImage(source, cfg, 42, 0, 6);
    expect(otherImage.data.equals(first[0]!.data)).toBe(false);
  });

  it('a plan depends only on (seed, epoch, image) and changing one transform leaves the others’ draws alone', () => {
    const a = planAugment(presetConfig('standard'), rngFor(1, 2, 3), 100, 80);
    expect(planAugment(presetConfig('standard'), rngFor(1, 2, 3), 100, 80)).toEqual(a);
    const changed = presetConfig('standard');
    changed.transforms = changed.transforms.map((t) => (t.kind === 'brightness' ? { ...t, amount: 0.5 } : t));
    const b = planAugment(changed, rngFor(1, 2, 3), 100, 80);
    expect(b.crop).toEqual(a.crop);
    expect(b.flipH).toBe(a.flipH);
    expect(b.contrast).toBe(a.contrast);
  });
});
