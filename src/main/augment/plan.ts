/**
 * planAugment: every random choice of one augmentation, drawn up front from a seeded stream. Pure
 * and cheap, so it is tested on its own; applyAugment turns a plan into pixels.
 */
import { transformKinds, type AugmentConfig, type ResizeMode, type RotateFill, type TransformKind, type TransformOf } from '../../shared/augment';
import type { Rng } from './random';

/** A region of the source image, in pixels (after EXIF orientation). */
export interface Region {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Everything applyAugment needs, with every random value already drawn. */
export interface AugmentPlan {
  source: { width: number; height: number };
  /** The part of the source that is resized to the output (the whole image when no crop was drawn). */
  crop: Region;
  resize: ResizeMode;
  output: { width: number; height: number };
  padColor: [number, number, number];
  flipH: boolean;
  flipV: boolean;
  /** null when no rotation was drawn. */
  rotate: { degrees: number; fill: RotateFill; color: [number, number, number] } | null;
  /** Gaussian sigma; 0 for none. */
  blurSigma: number;
  grayscale: boolean;
  /** Multipliers (1 for none) and a hue shift in degrees (0 for none). */
  saturation: number;
  hue: number;
  brightness: number;
  contrast: number;
  /** Exponent on 0-1 values; 1 for none. */
  gamma: number;
}

// How many numbers each transform takes from the stream, drawn whether or not the transform is in
// the config: changing one transform then never changes what another one draws.
const draws: Record<TransformKind, number> = {
  randomResizedCrop: 1 + 10 * 2 + 2,
  hflip: 1,
  vflip: 1,
  rotate: 2,
  blur: 2,
  grayscale: 1,
  saturation: 2,
  hue: 2,
  brightness: 2,
  contrast: 2,
  gamma: 2,
};

/** Draws one augmentation of a width x height image. */
export function planAugment(config: AugmentConfig, rng: Rng, width: number, height: number): AugmentPlan {
  const byKind = new Map(config.transforms.map((t) => [t.kind, t]));
  const get = <K extends TransformKind>(kind: K) => byKind.get(kind) as TransformOf<K> | undefined;
  const u: Record<TransformKind, number[]> = {} as Record<TransformKind, number[]>;
  for (const kind of transformKinds) u[kind] = Array.from({ length: draws[kind] }, () => rng());
  const on = (kind: TransformKind): boolean => {
    const t = byKind.get(kind);
    return t !== undefined && u[kind][0]! < t.p;
  };
  const spread = (value: number, amount: number) => 1 - amount + 2 * amount * value;

  const rrc = get('randomResizedCrop');
  const crop = rrc && on('randomResizedCrop') ? randomCrop(rrc, u.randomResizedCrop.slice(1), width, height) : { left: 0, top: 0, width, height };
  const rotate = get('rotate');
  const degrees = rotate && on('rotate') ? (u.rotate[1]! * 2 - 1) * rotate.degrees : 0;
  const blur = get('blur');
  const hue = get('hue');
  const gamma = get('gamma');
  return {
    source: { width, height },
    crop,
    resize: config.resize,
    output: { ...config.inputSize },
    padColor: config.padColor ?? [0, 0, 0],
    flipH: on('hflip'),
    flipV: on('vflip'),
    rotate: rotate && degrees !== 0 ? { degrees, fill: rotate.fill, color: rotate.color ?? [0, 0, 0] } : null,
    blurSigma: blur && on('blur') ? blur.sigma[0] + (blur.sigma[1] - blur.sigma[0]) * u.blur[1]! : 0,
    grayscale: on('grayscale'),
    saturation: on('saturation') ? spread(u.saturation[1]!, get('saturation')!.amount) : 1,
    hue: hue && on('hue') ? (u.hue[1]! * 2 - 1) * hue.degrees : 0,
    brightness: on('brightness') ? spread(u.brightness[1]!, get('brightness')!.amount) : 1,
    contrast: on('contrast') ? spread(u.contrast[1]!, get('contrast')!.amount) : 1,
    gamma: gamma && on('gamma') ? gamma.range[0] + (gamma.range[1] - gamma.range[0]) * u.gamma[1]! : 1,
  };
}

/**
 * The usual ImageNet recipe: up to ten tries at a region whose area fraction lies in `scale` and
 * whose aspect ratio (drawn log-uniform) lies in `ratio`; failing that, the largest centred region
 * within the ratio range and the scale's maximum.
 */
export function randomCrop(t: TransformOf<'randomResizedCrop'>, u: number[], width: number, height: number): Region {
  const area = width * height;
  const [logLo, logHi] = [Math.log(t.ratio[0]), Math.log(t.ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (t.scale[0] + (t.scale[1] - t.scale[0]) * u[attempt * 2]!);
    const aspect = Math.exp(logLo + (logHi - logLo) * u[attempt * 2 + 1]!);
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      return { left: Math.floor(u[20]! * (width - w + 1)), top: Math.floor(u[21]! * (height - h + 1)), width: w, height: h };
    }
  }
  const aspect = Math.min(Math.max(width / height, t.ratio[0]), t.ratio[1]);
  const target = area * t.scale[1];
  const w = Math.max(1, Math.min(width, Math.round(Math.sqrt(target * aspect))));
  const h = Math.max(1, Math.min(height, Math.round(Math.sqrt(target / aspect))));
  return { left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2), width: w, height: h };
}
