/**
 * Previews: a few augmented images rendered to PNG at the real input size, kept in a small
 * in-memory LRU that the image routes (serve mode, Electron protocol) read by id and index.
 */
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { LoupeError, toErrorInfo } from '../../shared/errors';
import type { AugmentConfig, PreviewMode } from '../../shared/augment';
import { mapOrdered } from '../util/pool';
import { augmentImage, type AugmentSource } from './apply';

/** One image to preview. */
export interface PreviewSource extends AugmentSource {
  id: number;
}

/** A rendered preview: one PNG (or the error) per item. */
export interface RenderedItem {
  index: number;
  sourceId: number;
  png: Buffer | null;
  error: string | null;
}

/**
 * Renders `count` augmentations: in 'one-image' mode of the first source (augmentation k uses epoch k),
 * in 'many-images' mode one of each source in turn (epoch 0). An unreadable image gives an error item.
 */
export async function renderPreview(
  sources: readonly PreviewSource[],
  config: AugmentConfig,
  options: { count: number; seed: number; mode: PreviewMode; pixelLimit?: number; concurrency?: number },
): Promise<RenderedItem[]> {
  if (sources.length === 0) throw new LoupeError('NOT_FOUND', 'There are no images to preview. Import some first.');
  const jobs = Array.from({ length: options.count }, (_, index) => ({
    index,
    source: options.mode === 'one-image' ? sources[0]! : sources[index % sources.length]!,
    epoch: options.mode === 'one-image' ? index : 0,
  }));
  const out: RenderedItem[] = [];
  for await (const item of mapOrdered(jobs, options.concurrency ?? 4, async ({ index, source, epoch }) => {
    try {
      const image = await augmentImage(source, config, options.seed, epoch, source.id, options.pixelLimit);
      const png = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
        .png({ compressionLevel: 1 })
        .toBuffer();
      return { index, sourceId: source.id, png, error: null };
    } catch (error) {
      return { index, sourceId: source.id, png: null, error: toErrorInfo(error).message };
    }
  })) {
    out.push(item);
  }
  return out;
}

/** The last few previews' PNGs, by preview id and index. */
export class PreviewCache {
  private readonly previews = new Map<string, Array<Buffer | null>>();

  constructor(private readonly capacity = 6) {}

  /** Stores a preview's PNGs and returns its new id. */
  add(pngs: Array<Buffer | null>): string {
    const id = randomBytes(9).toString('base64url');
    this.previews.set(id, pngs);
    while (this.previews.size > this.capacity) this.previews.delete(this.previews.keys().next().value!);
    return id;
  }

  /** One PNG; NOT_FOUND once the preview has been evicted or the image failed. */
  get(previewId: string, index: number): Buffer {
    const pngs = this.previews.get(previewId);
    const png = pngs?.[index];
    if (!pngs || !png) throw new LoupeError('NOT_FOUND', `No preview image ${previewId}/${index}.`, { previewId, index });
    // Recently read previews stay longest.
    this.previews.delete(previewId);
    this.previews.set(previewId, pngs);
    return png;
  }
}
