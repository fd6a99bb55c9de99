/** The tiny CNN of tinyOnnx.ts as a TF.js layers model saved to disk (model.json + weights.bin), same weights. */
import type * as Tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import type { TinyCnn } from './tinyOnnx';

/** OIHW → HWIO. */
function toHwio(weight: Float32Array, out: number, inp: number): Float32Array {
  const result = new Float32Array(weight.length);
  for (let o = 0; o < out; o++)
    for (let i = 0; i < inp; i++)
      for (let h = 0; h < 3; h++) for (let w = 0; w < 3; w++) result[((h * 3 + w) * inp + i) * out + o] = weight[((o * inp + i) * 3 + h) * 3 + w]!;
  return result;
}

/** Builds the TF.js twin of `model` and writes it to `dir`; returns the model.json path. */
export async function writeTinyCnnTfjs(tf: typeof Tf, model: TinyCnn, dir: string): Promise<string> {
  const [c1, c2] = model.channels;
  const s = model.inputSize;
  const net = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [s, s, 3], filters: c1, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
      tf.layers.conv2d({ filters: c2, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
      tf.layers.globalAveragePooling2d({}),
    ],
  });
  net.setWeights([
    tf.tensor4d(toHwio(model.conv1.weight, c1, 3), [3, 3, 3, c1]),
    tf.tensor1d(model.conv1.bias),
    tf.tensor4d(toHwio(model.conv2.weight, c2, c1), [3, 3, c1, c2]),
    tf.tensor1d(model.conv2.bias),
  ]);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'model.json');
  await net.save({
    save: async (artifacts) => {
      const weights = Buffer.from(artifacts.weightData as ArrayBuffer);
      fs.writeFileSync(path.join(dir, 'weights.bin'), weights);
      fs.writeFileSync(
        file,
        JSON.stringify({
          modelTopology: artifacts.modelTopology,
          format: 'layers-model',
          weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
        }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    },
  });
  net.dispose();
  return file;
}
