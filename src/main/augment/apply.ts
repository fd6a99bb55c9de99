/**
 * applyAugment: a plan turned into pixels with sharp. One pipeline from the file when there is no
 * rotation (decode, crop, resize, flips, photometric); with a rotation, a second pipeline on the
 * small resized image, because sharp extends edges only after it rotates and the fill must exist
 * before. Grayscale, saturation and hue are one colour matrix (recomb). Gamma runs last as a 256-entry lookup table (sharp's own gamma is a resize gamma).
 */
import sharp, { type Sharp } from 'sharp';
import { LoupeError } from '../../shared/errors';
import type { AugmentConfig } from '../../shared/augment';
import { defaultPixelLimit } from '../dataset/imageInfo';
import { planAugment, type AugmentPlan } from './plan';
import { rngFor } from './random';

/** 8-bit RGB pixels, row-major, channels interleaved. */
export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
}

/** An image to augment: a file path or its bytes, with its size after EXIF orientation when known. */
export interface AugmentSource {
  input: string | Buffer;
  width?: number | null;
  height?: number | null;
}

/** Runs one plan on one image and returns plan.output-sized RGB pixels. */
export async function applyAugment(input: string | Buffer, plan: AugmentPlan, pixelLimit = defaultPixelLimit): Promise<RawImage> {
  const { width, height } = plan.output;
  const background = { r: plan.padColor[0], g: plan.padColor[1], b: plan.padColor[2] };
  let image = sharp(input, { limitInputPixels: pixelLimit, failOn: 'truncated' })
    .autoOrient()
    .flatten({ background });
  const { crop, source } = plan;
  if (crop.left !== 0 || crop.top !== 0 || crop.width !== source.width || crop.height !== source.height) {
    image = image.extract(crop);
  }
  image = image
    .resize(width, height, {
      fit: plan.resize === 'squish' ? 'fill' : plan.resize === 'crop' ? 'cover' : 'contain',
      position: 'centre',
      background,
    })
    .flip(plan.flipV)
    .flop(plan.flipH);

  let out: RawImage;
  if (plan.rotate) {
    const { degrees, fill, color } = plan.rotate;
    const fillColour = { r: color[0], g: color[1], b: color[2] };
    // Pad enough that every output pixel's source lies inside the padded image.
    const rad = (degrees * Math.PI) / 180;
    const [cos, sin] = [Math.abs(Math.cos(rad)), Math.abs(Math.sin(rad))];
    const padX = fill === 'constant' ? 0 : Math.max(0, Math.ceil((width * cos + height * sin - width) / 2)) + 2;
    const padY = fill === 'constant' ? 0 : Math.max(0, Math.ceil((width * sin + height * cos - height) / 2)) + 2;
    if (padX > 0 || padY > 0) {
      image = image.extend({
        top: padY,
        bottom: padY,
        left: padX,
        right: padX,
        extendWith: fill === 'edge' ? 'copy' : 'mirror',
      });
    }
    const padded = await toRaw(image);
    const rotated = await toRaw(
      photometric(
        sharp(padded.data, { raw: { width: padded.width, height: padded.height, channels: 3 } }).rotate(degrees, { background: fillColour }),
        plan,
      ),
    );
    out = centreCrop(rotated, width, height);
  } else {
    out = await toRaw(photometric(image, plan));
  }
  if (plan.gamma !== 1) applyGamma(out.data, plan.gamma);
  return out;
}

/** Plans and applies one augmentation of one image for (seed, epoch, key). Reads the header when the size is unknown or stale. */
export async function augmentImage(
  source: AugmentSource,
  config: AugmentConfig,
  seed: number,
  epoch: number,
  key: number | string,
  pixelLimit = defaultPixelLimit,
): Promise<RawImage> {
  const run = (w: number, h: number) => applyAugment(source.input, planAugment(config, rngFor(seed, epoch, key), w, h), pixelLimit);
  try {
    if (source.width && source.height) {
      try {
        return await run(source.width, source.height);
      } catch (error) {
        // The recorded size may be stale (the file changed since import): measure and try once more.
        if (!/extract area/i.test((error as Error).message)) throw error;
      }
    }
    const size = await orientedSize(source.input, pixelLimit);
    return await run(size.width, size.height);
  } catch (error) {
    if (error instanceof LoupeError) throw error;
    const where = typeof source.input === 'string' ? source.input : 'image';
    throw new LoupeError('UNSUPPORTED_IMAGE', `cannot augment ${where}: ${(error as Error).message.split('\n')[0]}`, { file: where });
  }
}

/** Width and height after EXIF orientation. */
export async function orientedSize(input: string | Buffer, pixelLimit = defaultPixelLimit): Promise<{ width: number; height: number }> {
  const meta = await sharp(input, { limitInputPixels: pixelLimit }).metadata();
  if (!meta.width || !meta.height) throw new Error('no image size in header');
  const swapped = (meta.orientation ?? 1) >= 5;
  return swapped ? { width: meta.height, height: meta.width } : { width: meta.width, height: meta.height };
}

function photometric(image: Sharp, plan: AugmentPlan): Sharp {
  if (plan.blurSigma >= 0.3) image = image.blur(plan.blurSigma);
  const matrix = colourMatrix(plan.grayscale ? 0 : plan.saturation, plan.hue);
  if (matrix) image = image.recomb(matrix);
  // Brightness scales, then contrast stretches about mid-grey: one linear map a * v + b.
  const a = plan.brightness * plan.contrast;
  const b = 128 * (1 - plan.contrast);
  if (a !== 1 || b !== 0) image = image.linear(a, b);
  return image;
}

type Matrix3 = [[number, number, number], [number, number, number], [number, number, number]];

// Rec. 709 luma, as CSS filters and SVG feColorMatrix use.
const [lr, lg, lb] = [0.2126, 0.7152, 0.0722];

/**
 * Saturation and hue rotation as one 3x3 matrix on RGB (the feColorMatrix `saturate` and
 * `hueRotate` matrices): a single cheap recomb instead of a trip through LCh. null for identity.
 */
export function colourMatrix(saturation: number, hueDegrees: number): Matrix3 | null {
  if (saturation === 1 && hueDegrees === 0) return null;
  const s = saturation;
  const sat: Matrix3 = [
    [lr + (1 - lr) * s, lg - lg * s, lb - lb * s],
    [lr - lr * s, lg + (1 - lg) * s, lb - lb * s],
    [lr - lr * s, lg - lg * s, lb + (1 - lb) * s],
  ];
  if (hueDegrees === 0) return sat;
  const rad = (hueDegrees * Math.PI) / 180;
  const [c, n] = [Math.cos(rad), Math.sin(rad)];
  const hue: Matrix3 = [
    [lr + c * (1 - lr) - n * lr, lg - c * lg - n * lg, lb - c * lb + n * (1 - lb)],
    [lr - c * lr + n * 0.143, lg + c * (1 - lg) + n * 0.14, lb - c * lb - n * 0.283],
    [lr - c * lr - n * (1 - lr), lg - c * lg + n * lg, lb + c * (1 - lb) + n * lb],
  ];
  const out = [0, 1, 2].map((i) => [0, 1, 2].map((j) => hue[i]![0] * sat[0]![j]! + hue[i]![1] * sat[1]![j]! + hue[i]![2] * sat[2]![j]!));
  return out as Matrix3;
}

async function toRaw(image: Sharp): Promise<RawImage> {
  const { data, info } = await image.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.channels === 3) return { data, width: info.width, height: info.height };
  // Grey (1 band) or anything with alpha left: keep the first three bands, repeating grey.
  const out = Buffer.alloc(info.width * info.height * 3);
  for (let i = 0, o = 0; o < out.length; i += info.channels, o += 3) {
    out[o] = data[i]!;
    out[o + 1] = data[info.channels >= 3 ? i + 1 : i]!;
    out[o + 2] = data[info.channels >= 3 ? i + 2 : i]!;
  }
  return { data: out, width: info.width, height: info.height };
}

// libvips rotates about the centre into the bounding box: the original centre sits at floor((outer - inner) / 2).
function centreCrop(image: RawImage, width: number, height: number): RawImage {
  const left = Math.floor((image.width - width) / 2);
  const top = Math.floor((image.height - height) / 2);
  const out = Buffer.alloc(width * height * 3);
  const rowBytes = width * 3;
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * image.width + left) * 3;
    image.data.copy(out, y * rowBytes, from, from + rowBytes);
  }
  return { data: out, width, height };
}

function applyGamma(data: Buffer, gamma: number): void {
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = Math.round(255 * Math.pow(v / 255, gamma));
  for (let i = 0; i < data.length; i++) data[i] = lut[data[i]!]!;
}
