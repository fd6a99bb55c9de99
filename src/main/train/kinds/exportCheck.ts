/**
 * Kind 'exportCheck': checks an export against the network it came from, in the process that has
 * TF.js. The net is built from the weights; seeded sample inputs go through it (softmax, inference
 * mode), through the exported TF.js files (loaded with plain tf.loadLayersModel from memory) and
 * through the ONNX bytes (onnxruntime-node); the answer is the largest difference of each.
 */
import type * as Tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { LoupeError } from '../../../shared/errors';
import { onnxNames } from '../../model/exportOnnx';
import { loadNet, netInputSchema } from './predict';
import { defineKind } from './types';

/** The largest absolute difference between two equally long arrays. */
export function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return Number.isNaN(m) ? Infinity : m;
}

/** What the check answers: null where that format was not given. */
export interface ExportCheckAnswer {
  onnxMaxDifference: number | null;
  tfjsMaxDifference: number | null;
  samples: number;
}

export const exportCheckKind = defineKind({
  name: 'exportCheck',
  input: netInputSchema.extend({
    onnx: z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'bytes must be a Uint8Array').nullable(),
    /** model.json's text and weights.bin. */
    tfjs: z.object({ modelJson: z.string(), weights: z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'bytes must be a Uint8Array') }).nullable(),
    samples: z.number().int().min(1).max(64).default(8),
    seed: z.number().int().min(0).default(0),
  }),
  async run(input, ctx): Promise<ExportCheckAnswer> {
    const { tf, net } = await loadNet(ctx, input);
    const shape: [number, number, number, number] = [input.samples, ...input.inputShape];
    const x = tf.randomNormal(shape, 0, 1, 'float32', input.seed) as Tf.Tensor4D;
    try {
      const expected = tf.tidy(() => tf.softmax(net.apply(x, false)));
      const want = (await expected.data()) as Float32Array;
      expected.dispose();
      const pixels = (await x.data()) as Float32Array;
      let onnxMaxDifference: number | null = null;
      if (input.onnx) {
        ctx.progress('check ONNX', 0, 1);
        const ort = await import('onnxruntime-node');
        const session = await ort.InferenceSession.create(input.onnx);
        try {
          const out = await session.run({ [onnxNames.input]: new ort.Tensor('float32', pixels, shape) });
          onnxMaxDifference = maxDifference(out[onnxNames.output]!.data as Float32Array, want);
        } finally {
          await session.release();
        }
      }
      let tfjsMaxDifference: number | null = null;
      if (input.tfjs) {
        ctx.progress('check TF.js', 0, 1);
        const json = JSON.parse(input.tfjs.modelJson) as { modelTopology: object; weightsManifest: Array<{ weights: Tf.io.WeightsManifestEntry[] }> };
        const bytes = input.tfjs.weights;
        const model = await tf.loadLayersModel(
          tf.io.fromMemory({
            modelTopology: json.modelTopology,
            weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
            weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
          }),
        );
        try {
          const got = model.predict(x) as Tf.Tensor;
          tfjsMaxDifference = maxDifference((await got.data()) as Float32Array, want);
          got.dispose();
        } finally {
          model.dispose();
        }
      }
      if (ctx.signal.aborted) throw new LoupeError('CANCELLED', 'The export check was cancelled.');
      return { onnxMaxDifference, tfjsMaxDifference, samples: input.samples };
    } finally {
      x.dispose();
      net.dispose();
    }
  },
});
