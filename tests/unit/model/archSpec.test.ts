import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { buildNet, netSpec, parameterCount, weightSpecs } from '../../../src/main/model/archSpec';

describe('built-in architectures as data', () => {
  it('small-cnn at 28x28x1 is LeNet-like, under 1M parameters, and ends in one logit per class', () => {
    const spec = netSpec('small-cnn', [28, 28, 1], 10);
    // conv1 3*3*1*32+32, conv2 3*3*32*64+64, dense1 7*7*64*128+128, logits 128*10+10
    expect(parameterCount(spec)).toBe(320 + 18_496 + 401_536 + 1_290);
    expect(weightSpecs(spec).output).toEqual([10]);
    expect(JSON.stringify(spec)).not.toMatch(/bn|dropout/);
  });

  it('resnet-small has residual blocks with batch norm whose moving statistics are weights but not parameters', () => {
    const spec = netSpec('resnet-small', [32, 32, 3], 4);
    const { weights, output } = weightSpecs(spec);
    expect(output).toEqual([4]);
    expect(weights.filter((w) => w.name.endsWith('/moving_mean')).length).toBeGreaterThan(5);
    const all = weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
    const moving = weights.filter((w) => !w.trainable).reduce((n, w) => n + w.shape[0]!, 0);
    expect(parameterCount(spec)).toBe(all - moving);
  });

  it('builds the same weights from the same seed (He-normal kernels), and writes back what it read', async () => {
    await tf.setBackend('cpu');
    const spec = netSpec('small-cnn', [12, 12, 1], 3);
    const a = buildNet(tf, spec, 7);
    const b = buildNet(tf, spec, 7);
    const c = buildNet(tf, spec, 8);
    const wa = await a.readWeights();
    const kernel = wa.get('conv1/kernel')!;
    expect(Array.from(kernel.data)).toEqual(Array.from((await b.readWeights()).get('conv1/kernel')!.data));
    expect(Array.from(kernel.data)).not.toEqual(Array.from((await c.readWeights()).get('conv1/kernel')!.data));
    // He-normal: standard deviation about sqrt(2 / fan-in) = sqrt(2 / 9) for conv1.
    const dense = wa.get('dense1/kernel')!.data;
    const std = Math.sqrt(dense.reduce((s, v) => s + v * v, 0) / dense.length);
    expect(std).toBeCloseTo(Math.sqrt(2 / (3 * 3 * 64)), 2);
    c.writeWeights(wa);
    const x = tf.randomUniform([2, 12, 12, 1]) as tf.Tensor4D;
    expect(Array.from(await c.apply(x, false).data())).toEqual(Array.from(await a.apply(x, false).data()));
    expect(() => c.writeWeights(new Map([...wa].slice(1)))).toThrow(/conv1\/kernel is missing/);
    [a, b, c].forEach((n) => n.dispose());
  });
});
