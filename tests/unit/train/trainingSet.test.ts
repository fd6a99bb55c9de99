/** The input a full run chooses from its dataset. */
import { describe, expect, it } from 'vitest';
import { chooseInput, type TrainingImage } from '../../../src/main/train/trainingSet';

const image = (width: number, height: number, channels: number): TrainingImage => ({ id: 1 as TrainingImage['id'], file: 'x.png', label: 0, split: 'train', width, height, channels });

describe('chooseInput', () => {
  it('takes the typical shorter side within 16..224, one channel only when every image is grayscale', () => {
    expect(chooseInput([image(40, 30, 3), image(64, 48, 3), image(100, 90, 1)], {})).toEqual({ inputSize: 48, channels: 3 });
    expect(chooseInput([image(8, 8, 1), image(10, 12, 2)], {})).toEqual({ inputSize: 16, channels: 1 });
    expect(chooseInput([image(1000, 800, 3)], {})).toEqual({ inputSize: 224, channels: 3 });
    expect(chooseInput([image(1000, 800, 1)], { inputSize: 32, channels: 3 })).toEqual({ inputSize: 32, channels: 3 });
  });
});
