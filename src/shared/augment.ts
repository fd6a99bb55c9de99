/**
 * Augmentation as plain data: an AugmentConfig (versioned, validated with messages a person can act
 * on), the four presets, and the preview request. A run stores the config it trained with; the core
 * turns it into sharp pipelines (src/main/augment).
 *
 * Transforms run in one fixed order whatever their order in the list (each kind appears at most once):
 * random resized crop, resize to the input size, flips, rotation, blur, grayscale, saturation and hue,
 * brightness and contrast, gamma.
 */
import { z } from 'zod';
import type { ImageId } from './types';

/** The schema version of AugmentConfig; a run records it with the config. */
export const augmentConfigVersion = 1;

/** How an image is brought to the model's input size. */
export const resizeModes = ['squish', 'crop', 'pad'] as const;
/** squish: ignore aspect; crop: centre crop after resizing the short side; pad: letterbox. */
export type ResizeMode = (typeof resizeModes)[number];

/** How a rotation fills the corners it uncovers. */
export const rotateFills = ['edge', 'reflect', 'constant'] as const;
/** edge: repeat the border pixels; reflect: mirror the image; constant: one colour. */
export type RotateFill = (typeof rotateFills)[number];

/** Every transform kind, in the order the pipeline applies them. */
export const transformKinds = [
  'randomResizedCrop',
  'hflip',
  'vflip',
  'rotate',
  'blur',
  'grayscale',
  'saturation',
  'hue',
  'brightness',
  'contrast',
  'gamma',
] as const;
/** One kind of transform. */
export type TransformKind = (typeof transformKinds)[number];

const between = (name: string, lo: number, hi: number) =>
  z
    .number({ error: `${name} must be a number` })
    .refine((v) => Number.isFinite(v) && v >= lo && v <= hi, `${name} must be between ${lo} and ${hi}`);

const range = (name: string, lo: number, hi: number) =>
  z
    .tuple([between(`${name} minimum`, lo, hi), between(`${name} maximum`, lo, hi)], {
      error: `${name} must be a [minimum, maximum] pair`,
    })
    .refine(([a, b]) => a <= b, `${name} minimum must not exceed its maximum`);

const colour = (name: string) =>
  z.tuple([between(`${name} red`, 0, 255), between(`${name} green`, 0, 255), between(`${name} blue`, 0, 255)], {
    error: `${name} must be [red, green, blue], each 0-255`,
  });

const p = (kind: string) => between(`${kind}.p`, 0, 1);

/** Schema of each transform: a probability and, where it makes sense, a range. */
export const transformSchema = z.discriminatedUnion(
  'kind',
  [
    /** Crop a random region (area fraction in `scale`, aspect ratio w/h in `ratio`), then resize it. */
    z.object({
      kind: z.literal('randomResizedCrop'),
      p: p('randomResizedCrop'),
      scale: range('randomResizedCrop.scale', 0.01, 1).refine(([a]) => a > 0, 'randomResizedCrop.scale must be above 0'),
      ratio: range('randomResizedCrop.ratio', 0.1, 10),
    }),
    z.object({ kind: z.literal('hflip'), p: p('hflip') }),
    z.object({ kind: z.literal('vflip'), p: p('vflip') }),
    /** Rotate by a random angle in [-degrees, degrees]. */
    z.object({
      kind: z.literal('rotate'),
      p: p('rotate'),
      degrees: between('rotate.degrees', 0, 180),
      fill: z.enum(rotateFills, { error: `rotate.fill must be one of ${rotateFills.join(', ')}` }),
      color: colour('rotate.color').optional(),
    }),
    /** Gaussian blur with sigma drawn from a range. */
    z.object({ kind: z.literal('blur'), p: p('blur'), sigma: range('blur.sigma', 0.3, 20) }),
    z.object({ kind: z.literal('grayscale'), p: p('grayscale') }),
    /** Saturation factor drawn from [1 - amount, 1 + amount]. */
    z.object({ kind: z.literal('saturation'), p: p('saturation'), amount: between('saturation.amount', 0, 1) }),
    /** Hue shift drawn from [-degrees, degrees]. */
    z.object({ kind: z.literal('hue'), p: p('hue'), degrees: between('hue.degrees', 0, 180) }),
    /** Brightness factor drawn from [1 - amount, 1 + amount]. */
    z.object({ kind: z.literal('brightness'), p: p('brightness'), amount: between('brightness.amount', 0, 1) }),
    /** Contrast factor (about mid-grey) drawn from [1 - amount, 1 + amount]. */
    z.object({ kind: z.literal('contrast'), p: p('contrast'), amount: between('contrast.amount', 0, 1) }),
    /** out = in^gamma (on 0-1 values), gamma drawn from a range: above 1 darkens. */
    z.object({ kind: z.literal('gamma'), p: p('gamma'), range: range('gamma.range', 0.2, 5) }),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? `transform kind must be one of ${transformKinds.join(', ')}` : undefined) },
);

/** One transform of the list. */
export type AugmentTransform = z.infer<typeof transformSchema>;
/** The transform of one kind. */
export type TransformOf<K extends TransformKind> = Extract<AugmentTransform, { kind: K }>;

const dimension = (name: string) => z.number().int(`${name} must be a whole number`).min(8, `${name} must be between 8 and 2048`).max(2048, `${name} must be between 8 and 2048`);

/** How pixel values become model inputs: 0-1, or (x/255 - mean) / std per channel. */
export const normalizeSchema = z.discriminatedUnion(
  'kind',
  [
    z.object({ kind: z.literal('unit') }),
    z.object({
      kind: z.literal('meanStd'),
      mean: z.tuple([between('normalize.mean', 0, 1), between('normalize.mean', 0, 1), between('normalize.mean', 0, 1)], {
        error: 'normalize.mean must be three numbers (R, G, B)',
      }),
      std: z.tuple([between('normalize.std', 0.001, 10), between('normalize.std', 0.001, 10), between('normalize.std', 0.001, 10)], {
        error: 'normalize.std must be three numbers (R, G, B)',
      }),
    }),
  ],
  { error: () => "normalize.kind must be 'unit' or 'meanStd'" },
);
/** Normalisation of the output tensor. */
export type Normalize = z.infer<typeof normalizeSchema>;

/** The full augmentation config: plain JSON, stored with the run that uses it. */
export const augmentConfigSchema = z
  .object({
    version: z.literal(augmentConfigVersion, { error: `version must be ${augmentConfigVersion}` }),
    inputSize: z.object({ width: dimension('inputSize.width'), height: dimension('inputSize.height') }),
    resize: z.enum(resizeModes, { error: `resize must be one of ${resizeModes.join(', ')}` }),
    /** Letterbox colour for resize 'pad'. */
    padColor: colour('padColor').optional(),
    normalize: normalizeSchema,
    transforms: z.array(transformSchema).max(transformKinds.length, 'too many transforms'),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    for (const t of config.transforms) {
      if (seen.has(t.kind)) {
        ctx.addIssue({ code: 'custom', path: ['transforms'], message: `${t.kind} appears twice; each transform may appear once` });
      }
      seen.add(t.kind);
    }
  });

/** A validated augmentation config. */
export type AugmentConfig = z.infer<typeof augmentConfigSchema>;

/** Validates a config, throwing one readable message (the first problem) on failure. */
export function parseAugmentConfig(input: unknown): AugmentConfig {
  const result = augmentConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new Error(issue?.message ?? 'invalid augmentation config');
}

/** The preset names. */
export const augmentPresetNames = ['none', 'light', 'standard', 'strong'] as const;
/** A preset's name. */
export type AugmentPresetName = (typeof augmentPresetNames)[number];

/** The transforms of each preset. standard is the usual ImageNet recipe (crop, flip, colour jitter); strong adds rotation, blur, grayscale, hue and gamma. */
export const augmentPresets: Record<AugmentPresetName, AugmentTransform[]> = {
  none: [],
  light: [
    { kind: 'randomResizedCrop', p: 1, scale: [0.8, 1], ratio: [3 / 4, 4 / 3] },
    { kind: 'hflip', p: 0.5 },
    { kind: 'brightness', p: 0.5, amount: 0.1 },
    { kind: 'contrast', p: 0.5, amount: 0.1 },
  ],
  standard: [
    { kind: 'randomResizedCrop', p: 1, scale: [0.35, 1], ratio: [3 / 4, 4 / 3] },
    { kind: 'hflip', p: 0.5 },
    { kind: 'saturation', p: 0.8, amount: 0.2 },
    { kind: 'brightness', p: 0.8, amount: 0.2 },
    { kind: 'contrast', p: 0.8, amount: 0.2 },
  ],
  strong: [
    { kind: 'randomResizedCrop', p: 1, scale: [0.08, 1], ratio: [3 / 4, 4 / 3] },
    { kind: 'hflip', p: 0.5 },
    { kind: 'rotate', p: 0.5, degrees: 25, fill: 'reflect' },
    { kind: 'blur', p: 0.2, sigma: [0.3, 1.5] },
    { kind: 'grayscale', p: 0.1 },
    { kind: 'saturation', p: 0.8, amount: 0.4 },
    { kind: 'hue', p: 0.5, degrees: 10 },
    { kind: 'brightness', p: 0.8, amount: 0.4 },
    { kind: 'contrast', p: 0.8, amount: 0.4 },
    { kind: 'gamma', p: 0.3, range: [0.7, 1.4] },
  ],
};

/** A transform of each kind with sensible values, for a UI that switches one on. */
export const defaultTransforms: { [K in TransformKind]: TransformOf<K> } = {
  randomResizedCrop: { kind: 'randomResizedCrop', p: 1, scale: [0.35, 1], ratio: [3 / 4, 4 / 3] },
  hflip: { kind: 'hflip', p: 0.5 },
  vflip: { kind: 'vflip', p: 0.5 },
  rotate: { kind: 'rotate', p: 0.5, degrees: 15, fill: 'reflect' },
  blur: { kind: 'blur', p: 0.3, sigma: [0.3, 1.5] },
  grayscale: { kind: 'grayscale', p: 0.1 },
  saturation: { kind: 'saturation', p: 0.8, amount: 0.3 },
  hue: { kind: 'hue', p: 0.5, degrees: 10 },
  brightness: { kind: 'brightness', p: 0.8, amount: 0.3 },
  contrast: { kind: 'contrast', p: 0.8, amount: 0.3 },
  gamma: { kind: 'gamma', p: 0.3, range: [0.7, 1.4] },
};

/** ImageNet's channel statistics, for pretrained backbones. */
export const imagenetNormalize: Normalize = { kind: 'meanStd', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** A full config from a preset: 224x224, squish, 0-1 values unless overridden. */
export function presetConfig(name: AugmentPresetName, base: Partial<Omit<AugmentConfig, 'transforms' | 'version'>> = {}): AugmentConfig {
  return {
    version: augmentConfigVersion,
    inputSize: base.inputSize ?? { width: 224, height: 224 },
    resize: base.resize ?? 'squish',
    ...(base.padColor ? { padColor: base.padColor } : {}),
    normalize: base.normalize ?? { kind: 'unit' },
    transforms: augmentPresets[name].map((t) => structuredClone(t)),
  };
}

/** The preset whose transforms equal these, or null when they are custom. */
export function matchPreset(transforms: readonly AugmentTransform[]): AugmentPresetName | null {
  const key = (list: readonly AugmentTransform[]) => JSON.stringify([...list].sort((a, b) => a.kind.localeCompare(b.kind)));
  const wanted = key(transforms);
  return augmentPresetNames.find((name) => key(augmentPresets[name]) === wanted) ?? null;
}

/** What the preview shows: one image many times, or many images once each. */
export const previewModes = ['one-image', 'many-images'] as const;
/** A preview mode. */
export type PreviewMode = (typeof previewModes)[number];

/** Input of `augment:preview`. */
export const augmentPreviewSchema = z.object({
  config: augmentConfigSchema,
  /** Images to preview; when absent, `count` active images are sampled with `sampleSeed`. */
  imageIds: z
    .array(z.number().int().positive().transform((n) => n as ImageId))
    .min(1, 'imageIds must name at least one image')
    .max(64, 'imageIds may name at most 64 images')
    .optional(),
  count: z.number().int().min(1, 'count must be between 1 and 64').max(64, 'count must be between 1 and 64').default(12),
  seed: z.number().int().min(0).max(0xffffffff).default(0),
  sampleSeed: z.number().int().min(0).max(0xffffffff).optional(),
  mode: z.enum(previewModes).default('many-images'),
});

/** One preview image: fetch it with `api.previewUrl(previewId, index)`. */
export interface AugmentPreviewItem {
  index: number;
  imageId: ImageId;
  /** Relative to the project root. */
  path: string;
  label: string | null;
  /** Why this image could not be augmented; null when it was. */
  error: string | null;
}

/** The answer to `augment:preview`. */
export interface AugmentPreview {
  previewId: string;
  width: number;
  height: number;
  seed: number;
  items: AugmentPreviewItem[];
  elapsedMs: number;
}

/** One preset as `augment:presets` lists it. */
export interface AugmentPresetInfo {
  name: AugmentPresetName;
  config: AugmentConfig;
}
