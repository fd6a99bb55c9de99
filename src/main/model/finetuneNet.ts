/**
 * A pretrained TF.js layers model (a registered or imported backbone) as a `Net` to fine-tune: its
 * feature output (the layer before its classifier, or its output when it is a feature extractor;
 * a 4-d feature map is averaged over its positions, as extractors.ts does), and a new dense head
 * for the run's classes, He-initialised from the seed. While `frozen`, only the head trains and the
 * backbone runs in inference mode (its batch-norm statistics stay as they are); unfrozen, every
 * weight trains, in groups with their own rate multipliers (earlier layers lower: discriminative
 * rates). Weights are named by the layers' own weight names ('conv1/kernel') and the head's
 * ('finetune_head/kernel'), so checkpoints, resume and predictions work as for a built-in net.
 * Loaded only in the training process.
 */
import type * as Tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import { LoupeError } from '../../shared/errors';
import type { Normalize } from '../../shared/augment';
import type { NamedWeights, Net, NetShape } from './archSpec';
import type { BackboneSpec } from './backbones';
import { channelsOf, fileHandler } from './extractors';
import { tfjsFormat } from './modelFiles';

/** The head's layer name: its weights are 'finetune_head/kernel' and 'finetune_head/bias'. */
export const headName = 'finetune_head';

/** Trainable variables that share a rate: `rate` multiplies the run's learning rate once unfrozen. */
export interface VariableGroup {
  name: string;
  variables: Tf.Variable[];
  rate: number;
}

/** A fine-tunable net. */
export interface FinetuneNet extends Net {
  /** True: the head trains alone, the backbone is fixed and in inference mode. */
  frozen: boolean;
  /** Every trainable variable once in one group: the backbone's earlier layers, its later layers, the head. */
  groups: VariableGroup[];
  /** Names of the backbone's weights and of the head's, as readWeights keys them. */
  backboneWeights: string[];
  headWeights: string[];
  /** Trainable numbers when unfrozen (backbone up to the features, and the head). */
  parameters: number;
  /** The layer the features come from, and their length. */
  featureLayer: string;
  featureDim: number;
  /** How the feeder scales pixels for it (in RGB order; a BGR backbone gets its channels reversed inside). */
  normalize: Normalize;
  /** The backbone up to its features (a functional model on the backbone's input), for export. */
  body: Tf.LayersModel;
  /** True when the channels are reversed (RGB to BGR) inside, before the backbone. */
  bgr: boolean;
}

/** The rate multipliers of the backbone's groups once unfrozen (the head's is 1). */
export const backboneRates = { later: 0.1, earlier: 0.01 };

type Layer = Tf.SymbolicTensor['sourceLayer'];

const refuse = (message: string): never => {
  throw new LoupeError('VALIDATION', message, { field: 'config.backbone' });
};

function isSoftmax(layer: Layer): boolean {
  const config = layer.getConfig() as { activation?: unknown };
  return layer.getClassName() === 'Softmax' || (layer.getClassName() === 'Activation' && config.activation === 'softmax');
}

function inputOf(layer: Layer): Tf.SymbolicTensor {
  const input = layer.input;
  if (Array.isArray(input)) return refuse(`layer ${layer.name} of the backbone takes ${input.length} inputs; fine-tuning needs a single chain before the classifier.`);
  return input;
}

/**
 * The feature output of a layers model: its single output, less a trailing softmax and the dense
 * classifier before it (a dense layer with a softmax activation is a classifier too).
 */
export function featureOutput(model: Tf.LayersModel): { tensor: Tf.SymbolicTensor; strippedClassifier: boolean } {
  if (model.outputs.length !== 1) refuse(`the backbone has ${model.outputs.length} outputs; fine-tuning needs one.`);
  let tensor = model.outputs[0]!;
  let softmax = false;
  while (isSoftmax(tensor.sourceLayer)) {
    tensor = inputOf(tensor.sourceLayer);
    softmax = true;
  }
  const last = tensor.sourceLayer;
  const lastActivation = (last.getConfig() as { activation?: unknown }).activation;
  const strippedClassifier = last.getClassName() === 'Dense' && (softmax || lastActivation === 'softmax');
  if (strippedClassifier) tensor = inputOf(last);
  if (tensor.sourceLayer.getClassName() === 'InputLayer') refuse('the backbone has no layers before its classifier: there are no features to fine-tune.');
  return { tensor, strippedClassifier };
}

/** Loads a TF.js layers backbone and puts a new head for `classes` classes on its features. */
export async function loadFinetuneNet(tf: typeof Tf, backbone: BackboneSpec, classes: number, seed: number): Promise<FinetuneNet> {
  if (backbone.kind !== 'tfjs' || !backbone.file) {
    return refuse(`config.backbone: fine-tuning needs a TF.js layers model; ${backbone.name} is ${backbone.kind === 'onnx' ? 'an ONNX model' : 'the image baseline'}. Import a TF.js layers model.json as a backbone and name it.`);
  }
  const json = JSON.parse(fs.readFileSync(backbone.file, 'utf8')) as { modelTopology?: unknown };
  if (tfjsFormat(json) !== 'layers-model') {
    refuse(`config.backbone: ${backbone.name} is a TF.js graph model, which cannot be trained; convert it as a layers model (tensorflowjs_converter --output_format tfjs_layers_model) and import that.`);
  }
  const model = await tf.loadLayersModel(fileHandler(backbone.file));
  let body: Tf.LayersModel;
  let featureLayer: string;
  try {
    const { tensor } = featureOutput(model);
    featureLayer = tensor.sourceLayer.name;
    body = tf.model({ inputs: model.inputs, outputs: tensor });
  } catch (error) {
    model.dispose();
    throw error;
  }
  const inputShape = model.inputs[0]!.shape;
  const channels = channelsOf(backbone);
  const size = typeof inputShape[1] === 'number' && inputShape[1] > 0 ? inputShape[1] : backbone.inputSize;
  const width = typeof inputShape[2] === 'number' && inputShape[2] > 0 ? inputShape[2] : size;
  if (width !== size || (typeof inputShape[3] === 'number' && inputShape[3] !== channels) || inputShape.length !== 4) {
    model.dispose();
    refuse(`the backbone takes input ${inputShape.slice(1).join('x')}, not a square ${channels}-channel image; fine-tuning needs [size, size, ${channels}].`);
  }
  const featureShape = body.outputs[0]!.shape;
  const featureDim = featureShape.at(-1);
  if ((featureShape.length !== 2 && featureShape.length !== 4) || typeof featureDim !== 'number') {
    model.dispose();
    return refuse(`the backbone's features (${featureLayer}) have shape ${JSON.stringify(featureShape)}; fine-tuning needs a vector or a feature map.`);
  }

  // The backbone's weights by their layer names; trainable ones grouped by depth (earlier half, later half).
  const variables = new Map<string, Tf.Variable>();
  const backboneWeights: string[] = [];
  for (const w of body.weights) {
    variables.set(w.originalName, w.read() as Tf.Variable);
    backboneWeights.push(w.originalName);
  }
  const weighted = body.layers.filter((l) => l.trainableWeights.length > 0);
  const cut = Math.floor(weighted.length / 2);
  const varsOf = (layers: typeof weighted) => layers.flatMap((l) => l.trainableWeights.map((w) => w.read() as Tf.Variable));
  const fanIn = featureDim;
  const initial = tf.randomNormal([featureDim, classes], 0, Math.sqrt(2 / fanIn), 'float32', seed * 1009 + 17);
  const unique = `${seed}_${Math.random().toString(36).slice(2)}`;
  const kernel = tf.variable(initial, true, `${headName}/kernel_${unique}`);
  initial.dispose();
  const bias = tf.variable(tf.zeros([classes]), true, `${headName}/bias_${unique}`);
  variables.set(`${headName}/kernel`, kernel);
  variables.set(`${headName}/bias`, bias);
  const headWeights = [`${headName}/kernel`, `${headName}/bias`];
  const groups: VariableGroup[] = [
    { name: 'backbone (earlier layers)', variables: varsOf(weighted.slice(0, cut)), rate: backboneRates.earlier },
    { name: 'backbone (later layers)', variables: varsOf(weighted.slice(cut)), rate: backboneRates.later },
    { name: 'head', variables: [kernel, bias], rate: 1 },
  ].filter((g) => g.variables.length > 0);
  const all = groups.flatMap((g) => g.variables);
  const parameters = all.reduce((n, v) => n + v.size, 0);

  const bgr = backbone.colour === 'bgr';
  const rgbOrder = <T>(values: [T, T, T]): [T, T, T] => (bgr ? [values[2], values[1], values[0]] : values);
  const normalize: Normalize = { kind: 'meanStd', mean: rgbOrder(backbone.mean), std: rgbOrder(backbone.std) };
  // Only inputShape and classes of a Net's spec are read by the code that runs nets (cross-entropy,
  // prediction); a fine-tuned net has no archSpec layers, and its arch is recorded as 'finetune'.
  const spec: NetShape = { inputShape: [size, size, channels], classes };

  const net: FinetuneNet = {
    spec,
    frozen: true,
    get trainable() {
      return net.frozen ? [kernel, bias] : all;
    },
    variables,
    groups,
    backboneWeights,
    headWeights,
    parameters,
    featureLayer,
    featureDim,
    normalize,
    body,
    bgr,
    apply: (x, training) =>
      tf.tidy(() => {
        const input = bgr ? tf.reverse(x, 3) : x;
        let features = body.apply(input, { training: training && !net.frozen }) as Tf.Tensor;
        if (features.rank === 4) features = tf.mean(features, [1, 2]);
        return tf.add(tf.matMul(features as Tf.Tensor2D, kernel), bias) as Tf.Tensor2D;
      }),
    async readWeights() {
      const out: NamedWeights = new Map();
      for (const [name, v] of variables) out.set(name, { shape: [...v.shape], data: Float32Array.from((await v.data()) as Float32Array) });
      return out;
    },
    writeWeights(weights) {
      for (const [name, v] of variables) {
        const w = weights.get(name);
        if (!w || w.shape.join('x') !== v.shape.join('x')) {
          throw new Error(`weights do not fit the fine-tuned ${backbone.name}: ${name} is ${w ? w.shape.join('x') : 'missing'}, needs ${v.shape.join('x')}`);
        }
        tf.tidy(() => v.assign(tf.tensor(w.data, w.shape)));
      }
    },
    dispose: () => {
      model.dispose();
      kernel.dispose();
      bias.dispose();
    },
  };
  return net;
}
