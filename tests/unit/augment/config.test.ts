import { describe, expect, it } from 'vitest';
import {
  augmentConfigSchema,
  augmentPresetNames,
  defaultTransforms,
  matchPreset,
  parseAugmentConfig,
  presetConfig,
  transformKinds,
} from '../../../src/shared/augment';

const base = presetConfig('none');
const withTransforms = (transforms: unknown[]) => ({ ...base, transforms });
const message = (input: unknown) => {
  try {
    parseAugmentConfig(input);
    return 'accepted';
  } catch (error) {
    return (error as Error).message;
  }
};

describe('AugmentConfig validation', () => {
  it('accepts every preset and every default transform', () => {
    for (const name of augmentPresetNames) expect(augmentConfigSchema.safeParse(presetConfig(name)).success).toBe(true);
    expect(augmentConfigSchema.safeParse(withTransforms(transformKinds.map((k) => defaultTransforms[k]))).success).toBe(true);
    expect(matchPreset(presetConfig('standard').transforms)).toBe('standard');
    expect(matchPreset([defaultTransforms.vflip])).toBeNull();
  });

  it('refuses invalid parameters with a message that names the parameter and its range', () => {
    expect(message(withTransforms([{ kind: 'rotate', p: 1, degrees: 200, fill: 'edge' }]))).toBe('rotate.degrees must be between 0 and 180');
    expect(message(withTransforms([{ kind: 'hflip', p: 1.5 }]))).toBe('hflip.p must be between 0 and 1');
    expect(message(withTransforms([{ kind: 'rotate', p: 1, degrees: 10, fill: 'wrap' }]))).toBe('rotate.fill must be one of edge, reflect, constant');
    expect(message(withTransforms([{ kind: 'randomResizedCrop', p: 1, scale: [0.9, 0.5], ratio: [0.75, 1.33] }]))).toBe(
      'randomResizedCrop.scale minimum must not exceed its maximum',
    );
    expect(message(withTransforms([{ kind: 'randomResizedCrop', p: 1, scale: [0.5, 1.5], ratio: [0.75, 1.33] }]))).toBe(
      'randomResizedCrop.scale maximum must be between 0.01 and 1',
    );
    expect(message(withTransforms([{ kind: 'brightness', p: 1, amount: -0.1 }]))).toBe('brightness.amount must be between 0 and 1');
    expect(message(withTransforms([{ kind: 'gamma', p: 1, range: [0.5] }]))).toMatch(/gamma.range/);
    expect(message(withTransforms([{ kind: 'sharpen', p: 1 }]))).toMatch(/transform kind must be one of randomResizedCrop, hflip/);
    expect(message(withTransforms([{ kind: 'hflip', p: 0.5 }, { kind: 'hflip', p: 1 }]))).toBe('hflip appears twice; each transform may appear once');
    expect(message({ ...base, inputSize: { width: 4, height: 224 } })).toBe('inputSize.width must be between 8 and 2048');
    expect(message({ ...base, resize: 'stretch' })).toBe('resize must be one of squish, crop, pad');
    expect(message({ ...base, version: 2 })).toBe('version must be 1');
    expect(message({ ...base, normalize: { kind: 'meanStd', mean: [0.5, 0.5, 0.5], std: [0, 1, 1] } })).toBe(
      'normalize.std must be between 0.001 and 10',
    );
  });

  it('is plain JSON that survives a round trip', () => {
    const config = presetConfig('strong', { resize: 'pad', padColor: [10, 20, 30] });
    expect(parseAugmentConfig(JSON.parse(JSON.stringify(config)))).toEqual(config);
  });
});
