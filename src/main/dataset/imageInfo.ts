/**
 * Reading one image for import: content hash, perceptual hash (dHash), size, channels, format and
 * a WebP thumbnail, from a single decode. Bad files raise UNSUPPORTED_IMAGE with a reason a person
 * can read; they never stop an import.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import sharp from 'sharp';
import { LoupeError } from '../../shared/errors';

/** Longest side of a stored thumbnail. */
export const thumbnailSize = 256;
/** Images with more pixels than this are refused before decoding (decompression bombs). */
export const defaultPixelLimit = 100_000_000;

// One libvips thread per image: the import runs several images at once, which scales better.
sharp.concurrency(1);

/** What import records of a readable image. */
export interface ImageFacts {
  contentHash: string;
  perceptualHash: string;
  width: number;
  height: number;
  channels: number;
  format: string;
  thumbnail: { webp: Buffer; width: number; height: number };
}

/** The SHA-256 of a file's bytes, hex. */
export function contentHash(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Reads and measures one image file. Throws UNSUPPORTED_IMAGE (with the reason) for files sharp cannot decode. */
export async function readImageFacts(file: string, pixelLimit = defaultPixelLimit): Promise<ImageFacts> {
  const bytes = await fs.readFile(file);
  const hash = contentHash(bytes);
  try {
    const input = { limitInputPixels: pixelLimit, failOn: 'truncated' as const };
    const meta = await sharp(bytes, input).metadata();
    if (!meta.width || !meta.height || !meta.format) throw new Error('no image size in header');
    // Orientations 5-8 swap width and height once the EXIF rotation is applied.
    const swapped = (meta.orientation ?? 1) >= 5;
    const { data, info } = await sharp(bytes, input)
      .rotate()
      .resize(thumbnailSize, thumbnailSize, { fit: 'inside', withoutEnlargement: true })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
    const [webp, perceptual] = await Promise.all([
      sharp(data, raw).webp({ quality: 75, effort: 2 }).toBuffer(),
      differenceHash(data, raw),
    ]);
    return {
      contentHash: hash,
      perceptualHash: perceptual,
      width: swapped ? meta.height : meta.width,
      height: swapped ? meta.width : meta.height,
      channels: meta.channels ?? info.channels,
      format: meta.format,
      thumbnail: { webp, width: info.width, height: info.height },
    };
  } catch (error) {
    throw new LoupeError('UNSUPPORTED_IMAGE', describeSharpError(error as Error, pixelLimit), { file });
  }
}

/** dHash: 9x8 greyscale, one bit per horizontal neighbour pair, as 16 hex digits. */
async function differenceHash(
  data: Buffer,
  raw: { raw: { width: number; height: number; channels: 1 | 2 | 3 | 4 } },
): Promise<string> {
  const grey = await sharp(data, raw).greyscale().resize(9, 8, { fit: 'fill' }).raw().toBuffer();
  let bits = 0n;
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 8; x++) {
      bits = (bits << 1n) | (grey[y * 9 + x]! > grey[y * 9 + x + 1]! ? 1n : 0n);
    }
  }
  return bits.toString(16).padStart(16, '0');
}

function describeSharpError(error: Error, pixelLimit: number): string {
  const text = error.message;
  if (/pixel limit/i.test(text)) return `image is larger than the ${pixelLimit.toLocaleString('en')} pixel limit`;
  if (/unsupported image format/i.test(text)) return 'not an image (unknown file format)';
  if (/premature end|truncated|unexpected end|incomplete/i.test(text)) return `truncated image: ${firstLine(text)}`;
  return `cannot decode: ${firstLine(text)}`;
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.trim();
}
