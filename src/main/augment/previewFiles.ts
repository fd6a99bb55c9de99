/** `loupe augment-preview`: augmentations of one image written as PNG files. */
import fs from 'node:fs';
import path from 'node:path';
import { augmentPresetNames, presetConfig, type AugmentPresetName, type AugmentPreview } from '../../shared/augment';
import { LoupeError } from '../../shared/errors';
import type { Project } from '../store/project';
import { requireImagesByPath } from '../store/images';

/** What the command needs of the core. */
export interface PreviewCore {
  requireProject(): Project;
  call(name: 'augment:preview', input: unknown): Promise<AugmentPreview>;
  previewImage(previewId: string, index: number): Buffer;
}

/** What the command wrote. */
export interface PreviewFilesResult {
  image: string;
  preset: AugmentPresetName;
  seed: number;
  width: number;
  height: number;
  out: string;
  files: string[];
  errors: string[];
}

/** Renders `n` augmentations of the image at `image` (relative to the project root) into `out` as PNGs. */
export async function writePreviewFiles(
  core: PreviewCore,
  options: { image: string; n: number; seed: number; preset: string; out: string },
): Promise<PreviewFilesResult> {
  if (!(augmentPresetNames as readonly string[]).includes(options.preset)) {
    throw new LoupeError('VALIDATION', `--preset must be one of ${augmentPresetNames.join(', ')}`);
  }
  const preset = options.preset as AugmentPresetName;
  const stored = options.image.split(path.sep).join('/').replace(/^\.\//, '');
  const [id] = requireImagesByPath(core.requireProject().db, [stored]);
  const preview = await core.call('augment:preview', {
    config: presetConfig(preset),
    imageIds: [id!],
    count: options.n,
    seed: options.seed,
    mode: 'one-image',
  });
  const out = path.resolve(options.out);
  fs.mkdirSync(out, { recursive: true });
  const files: string[] = [];
  const errors: string[] = [];
  const digits = String(preview.items.length - 1).length;
  for (const item of preview.items) {
    if (item.error) {
      errors.push(item.error);
      continue;
    }
    const name = `augment_${String(item.index).padStart(digits, '0')}.png`;
    fs.writeFileSync(path.join(out, name), core.previewImage(preview.previewId, item.index));
    files.push(name);
  }
  if (files.length === 0) throw new LoupeError('UNSUPPORTED_IMAGE', errors[0] ?? `Could not augment ${options.image}.`);
  return { image: stored, preset, seed: options.seed, width: preview.width, height: preview.height, out, files, errors };
}
