/**
 * Kind 'exportFinetune': a finetune run's network as a standard TF.js layers-model. The fine-tuned
 * net is rebuilt from its backbone file and the run's weights; a plain functional model is
 * composed of the backbone's layers up to the features, GlobalAveragePooling2D where the features
 * are a map (as the net averages them), Dense 'finetune_head' with the head's weights and a
 * softmax. A BGR backbone's channel reversal, which the net does inside, becomes a fixed 1x1
 * Conv2D permutation ('rgb_to_bgr'), so the model takes RGB inputs as the net does; the
 * normalisation stays outside, as it is for the net (the feeder applies it; loupe-model.json says
 * how). The model is saved through tf.io.withSaveHandler into model.json's text and weights.bin's
 * bytes, loaded back with plain tf.loadLayersModel and checked against the net (softmax, inference
 * mode) on seeded sample inputs; the core refuses the export when they differ.
 */
import type * as Tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { LoupeError } from '../../../shared/errors';
import { tfjsWeightsFile } from '../../model/exportTfjs';
import { headName, loadFinetuneNet, type FinetuneNet } from '../../model/finetuneNet';
import { maxDifference } from './exportCheck';
import { netInputSchema } from './predict';
import { defineKind } from './types';

/** What the kind answers: the files' contents and how far the written model is from the net. */
export interface ExportFinetuneAnswer {
  modelJson: string;
  weights: Uint8Array;
  tfjsMaxDifference: number;
  samples: number;
}

type SymbolicTensor = Tf.SymbolicTensor;
type Layer = SymbolicTensor['sourceLayer'];

/**
 * The body's layers applied again, in order, to `input` in place of the body's own input; its
 * features. Each call counts a use of the layer: `applied` gets each layer once per call, to be
 * disposed once (the net's dispose frees them).
 */
function reapply(body: Tf.LayersModel, input: SymbolicTensor, applied: Layer[]): SymbolicTensor {
  const mapped = new Map<number, SymbolicTensor>([[body.inputs[0]!.id, input]]);
  for (const layer of body.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    const node = layer.inboundNodes[0]!;
    const inputs = node.inputTensors.map((t) => {
      const m = mapped.get(t.id);
      if (!m) throw new LoupeError('INTERNAL', `layer ${layer.name} of the backbone takes an input outside its chain; it cannot be exported.`);
      return m;
    });
    const out = layer.apply(inputs.length === 1 ? inputs[0]! : inputs) as SymbolicTensor | SymbolicTensor[];
    applied.push(layer);
    const outs = Array.isArray(out) ? out : [out];
    node.outputTensors.forEach((t, i) => mapped.set(t.id, outs[i]!));
  }
  return mapped.get(body.outputs[0]!.id)!;
}

/**
 * A plain functional model of the fine-tuned net (softmax output) with the net's current weights,
 * and the layers to dispose once when done with it (those it added, and the backbone's it applied
 * again; the net frees the backbone's).
 */
export function composeFinetuneModel(tf: typeof Tf, net: FinetuneNet): { model: Tf.LayersModel; added: Layer[] } {
  const body = net.body;
  const used = new Set(body.layers.map((l) => l.name));
  const unique = (base: string) => {
    let name = base;
    for (let i = 2; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  };
  const added: Layer[] = [];
  const own = <L extends Layer>(layer: L): L => {
    added.push(layer);
    return layer;
  };
  let input = body.inputs[0]!;
  let features = body.outputs[0]!;
  if (net.bgr) {
    const channels = net.spec.inputShape[2];
    input = tf.input({ shape: [...net.spec.inputShape], name: unique('rgb_input') });
    const permute = own(tf.layers.conv2d({ filters: channels, kernelSize: 1, useBias: false, trainable: false, name: unique('rgb_to_bgr') }));
    const reversed = permute.apply(input) as SymbolicTensor;
    const kernel = new Float32Array(channels * channels);
    for (let c = 0; c < channels; c++) kernel[(channels - 1 - c) * channels + c] = 1;
    tf.tidy(() => permute.setWeights([tf.tensor4d(kernel, [1, 1, channels, channels])]));
    features = reapply(body, reversed, added);
  }
  if (features.shape.length === 4) features = own(tf.layers.globalAveragePooling2d({ name: unique('finetune_gap') })).apply(features) as SymbolicTensor;
  if (used.has(headName)) throw new LoupeError('INTERNAL', `the backbone has a layer named ${headName}; the fine-tuned model cannot be exported with it.`);
  used.add(headName);
  const head = own(tf.layers.dense({ units: net.spec.classes, name: headName }));
  const logits = head.apply(features) as SymbolicTensor;
  head.setWeights([net.variables.get(`${headName}/kernel`)!, net.variables.get(`${headName}/bias`)!]);
  const output = own(tf.layers.activation({ activation: 'softmax', name: unique('softmax') })).apply(logits) as SymbolicTensor;
  return { model: tf.model({ inputs: input, outputs: output, name: 'finetune' }), added };
}

/** model.json's text and weights.bin's bytes of a layers model, as exportTfjs lays them out. */
export async function layersModelFiles(tf: typeof Tf, model: Tf.LayersModel): Promise<{ modelJson: string; weights: Uint8Array }> {
  let artifacts: Tf.io.ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const saved = artifacts as Tf.io.ModelArtifacts | null;
  if (!saved?.modelTopology || !saved.weightSpecs || !saved.weightData) throw new LoupeError('INTERNAL', 'TF.js saved no topology or weights for the fine-tuned model.');
  const modelJson = {
    format: 'layers-model',
    generatedBy: 'Loupe',
    convertedBy: null,
    modelTopology: saved.modelTopology,
    weightsManifest: [{ paths: [tfjsWeightsFile], weights: saved.weightSpecs }],
  };
  return { modelJson: JSON.stringify(modelJson), weights: new Uint8Array(tf.io.CompositeArrayBuffer.join(saved.weightData)) };
}

export const exportFinetuneKind = defineKind({
  name: 'exportFinetune',
  input: netInputSchema.extend({
    samples: z.number().int().min(1).max(64).default(8),
    seed: z.number().int().min(0).default(0),
  }),
  async run(input, ctx): Promise<ExportFinetuneAnswer> {
    if (input.arch !== 'finetune' || !input.backbone) throw new LoupeError('VALIDATION', `exportFinetune exports finetune runs; ${input.arch} is built in (use exportCheck).`);
    const { tf } = await ctx.tf();
    const net = await loadFinetuneNet(tf, input.backbone, input.classes.length, 0);
    let added: Layer[] = [];
    let loaded: Tf.LayersModel | null = null;
    const x = tf.randomNormal([input.samples, ...net.spec.inputShape], 0, 1, 'float32', input.seed) as Tf.Tensor4D;
    try {
      net.writeWeights(new Map(input.weights.map((w) => [w.name, { shape: w.shape, data: w.data }])));
      ctx.progress('compose TF.js', 0, 1);
      const composed = composeFinetuneModel(tf, net);
      added = composed.added;
      const files = await layersModelFiles(tf, composed.model);
      const expected = tf.tidy(() => tf.softmax(net.apply(x, false)));
      const want = (await expected.data()) as Float32Array;
      expected.dispose();
      ctx.progress('check TF.js', 0, 1);
      const json = JSON.parse(files.modelJson) as { modelTopology: object; weightsManifest: Array<{ weights: Tf.io.WeightsManifestEntry[] }> };
      const bytes = files.weights;
      loaded = await tf.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: json.modelTopology,
          weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
          weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
        }),
      );
      const got = loaded.predict(x) as Tf.Tensor;
      const tfjsMaxDifference = maxDifference((await got.data()) as Float32Array, want);
      got.dispose();
      if (ctx.signal.aborted) throw new LoupeError('CANCELLED', 'The export was cancelled.');
      return { ...files, tfjsMaxDifference, samples: input.samples };
    } finally {
      x.dispose();
      loaded?.dispose();
      // The composed model shares the backbone's layers with the net: the net frees those, the added ones go here.
      for (const layer of added) layer.dispose();
      net.dispose();
    }
  },
});
