/**
 * runs:exportModel and runs:predict: a full run's network (its best checkpoint) written as TF.js
 * and ONNX files, checked against the network in the training process before they are moved into
 * place; and new images classified with it, in the training process. A finetune run's network
 * (a pretrained backbone with a new head) is rebuilt from its backbone and written as TF.js only:
 * ONNX is written for the built-in networks alone.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { LoupeError } from '../../shared/errors';
import type { ModelExport, ModelPrediction, ModelUsed, RunSummary } from '../../shared/train';
import { removeStaleStaging } from '../dataset/export';
import { resolveBackbone, type BackboneSpec } from '../model/backbones';
import { architectureNames, netSpec, type ArchitectureName, type NamedWeights, type NetSpec } from '../model/archSpec';
import { exportOnnx } from '../model/exportOnnx';
import { exportTfjs, loupeModelFile, tfjsWeightsFile, type ExportFile } from '../model/exportTfjs';
import type { Db } from '../store/db';
import { loadCheckpoint } from '../train/checkpoints';
import type { ExportCheckAnswer } from '../train/kinds/exportCheck';
import type { ExportFinetuneAnswer } from '../train/kinds/exportFinetune';
import { weightEntries } from '../train/kinds/predict';
import { getRun } from '../train/runs';
import { trainingProcess } from './train.handlers';
import type { CoreServices, Handlers } from './types';

/** The largest difference an exported model's outputs may have from the run's network before the export is refused. */
export const exportTolerance = 1e-3;

/** The largest difference a finetune run's TF.js export may have from its network (the same layers and ops): else it is refused. */
export const finetuneExportTolerance = 1e-5;

/** A full run's network: what it is, its spec (null for a finetune run) and the weights it kept. */
interface RunNetwork {
  run: RunSummary;
  model: ModelUsed;
  arch: ArchitectureName | 'finetune';
  spec: NetSpec | null;
  weights: NamedWeights;
}

const isBuiltIn = (arch: string): arch is ArchitectureName => (architectureNames as readonly string[]).includes(arch);

/** The run's network and its best weights; errors say what can be exported or predicted with instead. */
export function runNetwork(db: Db, id: number, what: 'exported' | 'used to predict'): RunNetwork {
  const run = getRun(db, id);
  if (run.config.mode !== 'full') {
    throw new LoupeError(
      'VALIDATION',
      `Run ${id} is a quick run: a head on a frozen backbone's embeddings, with no network of its own to be ${what}. ` +
        "Only full runs (train with mode 'full', small-cnn or resnet-small) can be; export the dataset itself with dataset:export.",
      { id, mode: run.config.mode },
    );
  }
  if (run.status === 'running') throw new LoupeError('CONFLICT', `Run ${id} is still training; wait until it is done.`, { id });
  if (run.task === 'regression') {
    throw new LoupeError('CONFLICT', `Run ${id} is a regression run: export of regression models is not built yet, nor predicting with them; its predicted values are in runs:values.`, { id, task: run.task });
  }
  const model = run.model;
  if (!model) throw new LoupeError('CONFLICT', `Run ${id} ${run.status === 'failed' ? 'failed' : 'ended'} before it recorded a network; train it again.`, { id });
  const arch = model.arch;
  if (!isBuiltIn(arch) && arch !== 'finetune') {
    throw new LoupeError('VALIDATION', `Run ${id} trained ${String(arch)}, which cannot be ${what}; only the built-in networks (${architectureNames.join(', ')}) and finetune runs can.`, {
      id,
      arch,
    });
  }
  const checkpoint = loadCheckpoint(db, id, 'best');
  if (!checkpoint) {
    throw new LoupeError('CONFLICT', `Run ${id} kept no weights (no epoch finished); resume it or train again, then try once an epoch is done.`, { id });
  }
  return { run, model, arch, spec: isBuiltIn(arch) ? netSpec(arch, model.inputShape, run.classes.length) : null, weights: checkpoint.weights };
}

/** A finetune run's backbone, resolved as the run resolved it (its layers give the network's topology; the weights are the run's). */
async function runBackbone(network: RunNetwork): Promise<BackboneSpec | null> {
  if (network.arch !== 'finetune') return null;
  const name = network.run.config.backbone;
  const id = network.run.id;
  const { spec } = await resolveBackbone(name).catch((error: unknown) => {
    throw new LoupeError('CONFLICT', `Run ${id} fine-tuned backbone "${name}", which cannot be found now (${(error as Error).message}); import it again under that name.`, { id, backbone: name });
  });
  if (spec.kind !== 'tfjs' || !spec.file) {
    throw new LoupeError('CONFLICT', `Run ${id} fine-tuned backbone "${name}", which is now ${spec.kind === 'onnx' ? 'an ONNX model' : 'the image baseline'}; import the TF.js layers model it was again under that name.`, {
      id,
      backbone: name,
    });
  }
  return spec;
}

/** What the process kinds need to build the run's network. */
function netInput(network: RunNetwork, backbone: BackboneSpec | null) {
  return {
    arch: network.arch,
    backbone,
    inputShape: network.model.inputShape,
    classes: network.run.classes,
    normalize: network.model.normalize,
    weights: weightEntries(network.weights),
  };
}

// Staging folders named as dataset exports name theirs, so removeStaleStaging cleans up after a killed export.
const stagingPrefix = (out: string) => `.${path.basename(out)}.partial-${process.pid}-${Date.now()}-`;

/** Writes the run's model into `out` (a new or empty folder), checked first; returns what was written. */
export async function exportModel(core: CoreServices, { id, out: given }: { id: number; out: string }): Promise<ModelExport> {
  const network = runNetwork(core.requireProject().db, id, 'exported');
  const out = path.resolve(given);
  const existing = await fs.readdir(out).catch(() => null);
  if (existing && existing.length > 0) throw new LoupeError('CONFLICT', `${out} is not empty; export the model into a new or empty folder.`, { out });

  const [h, w, c] = network.model.inputShape;
  const info = {
    classes: network.run.classes,
    inputSize: h === w ? h : Math.max(h, w),
    inputShape: network.model.inputShape,
    channels: c,
    normalize: network.model.normalize,
    resize: 'squish',
    arch: network.arch,
    run: id,
    datasetVersion: network.run.datasetVersion,
  };
  let files: ExportFile[];
  let check: Pick<ExportCheckAnswer, 'tfjsMaxDifference' | 'onnxMaxDifference'>;
  let tolerance = exportTolerance;
  const backbone = await runBackbone(network);
  if (network.spec) {
    const tfjs = exportTfjs(network.spec, network.weights);
    const onnx = exportOnnx(network.spec, network.weights);
    files = [...tfjs, { name: 'model.onnx', data: onnx }, loupeModelFile(info)];
    const modelJson = tfjs.find((f) => f.name === 'model.json')!;
    check = await trainingProcess(core).run<ExportCheckAnswer>('exportCheck', {
      ...netInput(network, null),
      onnx,
      tfjs: { modelJson: Buffer.from(modelJson.data).toString('utf8'), weights: tfjs.find((f) => f.name === tfjsWeightsFile)!.data },
      samples: 8,
      seed: id,
    });
  } else {
    // A finetune run: the training process composes the backbone's layers and the head into a plain layers-model and checks it.
    const answer = await trainingProcess(core).run<ExportFinetuneAnswer>('exportFinetune', { ...netInput(network, backbone), samples: 8, seed: id });
    files = [
      { name: 'model.json', data: Buffer.from(answer.modelJson) },
      { name: tfjsWeightsFile, data: answer.weights },
      loupeModelFile({
        ...info,
        backbone: backbone!.name,
        note: `A fine-tuned ${backbone!.name} (its layers, then the new head and a softmax) as TF.js only: ONNX is written for the built-in networks (${architectureNames.join(', ')}) only. Normalise inputs as "normalize" says (RGB order) before the model; a BGR backbone's channel reversal is inside it.`,
      }),
    ];
    check = { tfjsMaxDifference: answer.tfjsMaxDifference, onnxMaxDifference: null };
    tolerance = finetuneExportTolerance;
  }
  for (const [format, difference] of [
    ['TF.js', check.tfjsMaxDifference],
    ['ONNX', check.onnxMaxDifference],
  ] as const) {
    if (difference !== null && !(difference <= tolerance)) {
      throw new LoupeError('INTERNAL', `The ${format} model's outputs differ from run ${id}'s network by ${difference}; nothing was written. Please report this with the run's architecture.`, {
        id,
        format,
        difference,
      });
    }
  }

  await fs.mkdir(path.dirname(out), { recursive: true });
  await removeStaleStaging(path.dirname(out));
  const staging = await fs.mkdtemp(path.join(path.dirname(out), stagingPrefix(out)));
  try {
    for (const file of files) await fs.writeFile(path.join(staging, file.name), file.data);
    if (existing) await fs.rmdir(out);
    await fs.rename(staging, out);
  } catch (error) {
    await fs.rm(staging, { recursive: true, force: true });
    throw new LoupeError('IO', `Writing the model to ${out} failed: ${(error as Error).message}. Check that the folder is writable, or pick another.`, { out });
  }
  return { out, files: files.map((f) => f.name), onnxMaxDifference: check.onnxMaxDifference };
}

/** Classifies files and sent images with the run's network, in that order. */
export async function predictWithRun(
  core: CoreServices,
  { id, files, images, tta = false }: { id: number; files: string[]; images: Array<{ name: string; base64: string }>; tta?: boolean },
): Promise<ModelPrediction[]> {
  if (files.length === 0 && images.length === 0) throw new LoupeError('VALIDATION', 'Name at least one image to classify (files, or images sent as base64).');
  const network = runNetwork(core.requireProject().db, id, 'used to predict');
  const backbone = await runBackbone(network);
  return trainingProcess(core).run<ModelPrediction[]>('predict', {
    ...netInput(network, backbone),
    images: [
      ...files.map((file) => ({ name: file, file: path.resolve(file) })),
      ...images.map((image) => ({ name: image.name, bytes: new Uint8Array(Buffer.from(image.base64, 'base64')) })),
    ],
    tta,
    pixelLimit: core.options.pixelLimit,
  });
}

/** runs:exportModel, runs:predict. */
export function modelHandlers(core: CoreServices): Pick<Handlers, 'runs:exportModel' | 'runs:predict'> {
  return {
    'runs:exportModel': (params) => exportModel(core, params),
    'runs:predict': (params) => predictWithRun(core, params),
  };
}
