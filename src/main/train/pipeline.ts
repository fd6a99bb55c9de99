/**
 * The one place the images a network sees are defined: the augmentation preset at the network's
 * input size and normalisation. A full run's train batches, the LR finder and the sanity checks use
 * its preset; valid, test and predictions use 'none' (resize and normalise only), so a model scores
 * new images exactly as it scored its validation images.
 */
import { presetConfig, type AugmentConfig, type AugmentPresetName } from '../../shared/augment';

/** How 0..255 pixels become inputs: 0..1, or per-channel mean/std (a pretrained backbone's). */
export type InputNormalize = AugmentConfig['normalize'];

/** The pipeline of a network with `inputShape` ([height, width, ...]) fed with `preset`. */
export function networkPipeline(preset: AugmentPresetName, inputShape: readonly number[], normalize: InputNormalize = { kind: 'unit' }): AugmentConfig {
  return presetConfig(preset, { inputSize: { width: inputShape[1]!, height: inputShape[0]! }, normalize });
}
