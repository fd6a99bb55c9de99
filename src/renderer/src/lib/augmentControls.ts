/** What the Augment view shows for each transform: a label and its numeric parameters as sliders. */
import type { AugmentTransform, TransformKind } from '../../../shared/augment';

/** One slider: reads and writes one number of a transform. */
export interface ParamControl {
  key: string;
  label: string;
  min: number;
  max: number;
  step: number;
  get(t: AugmentTransform): number;
  set(t: AugmentTransform, value: number): void;
}

type Loose = Record<string, unknown>;

const field = (key: string, label: string, min: number, max: number, step: number): ParamControl => ({
  key,
  label,
  min,
  max,
  step,
  get: (t) => (t as unknown as Loose)[key] as number,
  set: (t, v) => {
    (t as unknown as Loose)[key] = v;
  },
});

// A [min, max] pair as two sliders that keep min <= max.
const pair = (key: string, label: string, min: number, max: number, step: number): ParamControl[] =>
  (['Min', 'Max'] as const).map((end, i) => ({
    key: `${key}${end}`,
    label: `${label} ${end.toLowerCase()}`,
    min,
    max,
    step,
    get: (t) => ((t as unknown as Loose)[key] as [number, number])[i]!,
    set: (t, v) => {
      const range = [...((t as unknown as Loose)[key] as [number, number])] as [number, number];
      range[i] = v;
      if (range[0] > range[1]) range[1 - i] = v;
      (t as unknown as Loose)[key] = range;
    },
  }));

/** The transforms in pipeline order, each with its label and parameters (the probability is shown for every one). */
export const transformControls: Array<{ kind: TransformKind; label: string; params: ParamControl[] }> = [
  { kind: 'randomResizedCrop', label: 'Random resized crop', params: [...pair('scale', 'Area', 0.05, 1, 0.01), ...pair('ratio', 'Aspect', 0.25, 4, 0.01)] },
  { kind: 'hflip', label: 'Horizontal flip', params: [] },
  { kind: 'vflip', label: 'Vertical flip', params: [] },
  { kind: 'rotate', label: 'Rotate', params: [field('degrees', '± degrees', 0, 180, 1)] },
  { kind: 'blur', label: 'Blur', params: pair('sigma', 'Sigma', 0.3, 5, 0.1) },
  { kind: 'grayscale', label: 'Grayscale', params: [] },
  { kind: 'saturation', label: 'Saturation', params: [field('amount', '± amount', 0, 1, 0.01)] },
  { kind: 'hue', label: 'Hue shift', params: [field('degrees', '± degrees', 0, 180, 1)] },
  { kind: 'brightness', label: 'Brightness', params: [field('amount', '± amount', 0, 1, 0.01)] },
  { kind: 'contrast', label: 'Contrast', params: [field('amount', '± amount', 0, 1, 0.01)] },
  { kind: 'gamma', label: 'Gamma', params: pair('range', 'Gamma', 0.2, 3, 0.05) },
];
