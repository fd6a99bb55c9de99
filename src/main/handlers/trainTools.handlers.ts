/**
 * The practitioner's checks before a full run: the LR finder and "overfit one batch" as jobs, and
 * "show a batch" (exactly what the network is fed) answered at once into the preview cache. The
 * training process does the work (kinds lrFind, sanity, showBatch); here the core gathers the
 * train images (files inside the project root) and the network's input, as a full run would.
 */
import { LoupeError } from '../../shared/errors';
import type { FullConfig, LrFindResult, OverfitResult, ShownBatch } from '../../shared/train';
import type { ImageId, JobId } from '../../shared/types';
import type { PreviewCache } from '../augment/preview';
import { networkPipeline } from '../train/pipeline';
import { previewPicksById } from '../augment/sources';
import type { JobContext } from '../jobs/manager';
import type { ArchitectureName } from '../model/archSpec';
import type { Project } from '../store/project';
import { jobListeners } from '../train/jobListeners';
import type { LrFindAnswer } from '../train/kinds/lrFind';
import type { SanityAnswer } from '../train/kinds/sanity';
import type { ShowBatchAnswer } from '../train/kinds/showBatch';
import { shownLabels, type NetToolInput } from '../train/netToolsInput';
import { targetSpecOf } from '../train/netBatch';
import { chooseInput, gatherTrainingSet } from '../train/trainingSet';
import { parseTrainConfig, runningTraining, trainingProcess } from './train.handlers';
import type { CoreServices, Handlers } from './types';

/** The requests this file answers (train.handlers.ts answers the rest of train:). */
export type TrainToolRequest = 'train:lrFind' | 'train:sanity' | 'train:showBatch';

/** Job kinds of the checks: one of each at a time, and none while a run trains. */
type ToolJob = 'lrFind' | 'sanity';

/** A full config from a request's (a config without a mode is a full one here). */
function fullConfig(input: Record<string, unknown>, what: string): FullConfig & { arch: ArchitectureName } {
  const config = parseTrainConfig({ mode: 'full', ...input });
  if (config.mode !== 'full') throw new LoupeError('VALIDATION', `config.mode: ${what} checks a full run's config; leave mode out or set it to 'full'.`, { field: 'config.mode' });
  if (config.arch === 'finetune') {
    throw new LoupeError('VALIDATION', `config.arch: ${what} runs on the built-in networks; use small-cnn or resnet-small.`, { field: 'config.arch' });
  }
  return config as FullConfig & { arch: ArchitectureName };
}

/** The train images (labelled with their classes, or their values on a regression project) and the network's input, as a full run of `config` would see them. */
export function toolInput(project: Project, config: FullConfig & { arch: ArchitectureName }): NetToolInput {
  const set = gatherTrainingSet(project);
  const { inputSize, channels } = chooseInput(set.images, config);
  const items = set.images.filter((i) => i.split === 'train').map((i) => ({ id: i.id, file: i.file, width: i.width, height: i.height, label: i.label }));
  return {
    classes: set.classes,
    items,
    target: targetSpecOf(set.task, config),
    config,
    arch: config.arch,
    inputSize,
    channels,
    augment: networkPipeline(config.augment, [inputSize, inputSize]),
  };
}

function refuseWhileBusy(core: CoreServices, kind: ToolJob): void {
  const training = runningTraining(core);
  if (training) throw new LoupeError('CONFLICT', `A ${training.kind === 'train' ? 'run' : training.kind} is training; wait for it or cancel it before running a check.`, { jobId: training.id });
  const same = core.jobs.running(kind);
  if (same) throw new LoupeError('CONFLICT', `A ${kind === 'lrFind' ? 'LR finder' : 'sanity check'} is already running; wait for it or cancel it.`, { jobId: same.id });
}

/** Starts one check as a job whose result is what `finish` makes of the kind's answer. */
function startCheck<A, R>(core: CoreServices, kind: ToolJob, config: Record<string, unknown>, what: string, finish: (answer: A, ctx: JobContext) => R): { jobId: JobId } {
  const project = core.requireProject();
  refuseWhileBusy(core, kind);
  const parsed = fullConfig(config, what);
  // Gathered now, so a bad project (no labels, no train split) answers the request, not the job.
  const input = toolInput(project, parsed);
  const job = core.jobs.start(kind, async (ctx) => {
    ctx.progress('starting', 0, 1);
    const answer = await trainingProcess(core).run<A>(kind, input, jobListeners(ctx), ctx.signal);
    return finish(answer, ctx);
  });
  return { jobId: job.id };
}

/** train:lrFind, train:sanity, train:showBatch. */
export function trainToolHandlers(core: CoreServices & { readonly previews: PreviewCache }): Pick<Handlers, TrainToolRequest> {
  return {
    'train:lrFind': ({ config }) =>
      startCheck<LrFindAnswer, LrFindResult>(core, 'lrFind', config, 'the LR finder', ({ backend, ...result }, ctx) => {
        const s = result.suggestion;
        ctx.log(`on ${backend}: ${s ? `suggested ${s.steepest.toExponential(1)} (steepest) or ${s.minimumOver10.toExponential(1)} (minimum / 10)` : 'no suggestion (the loss never fell)'}`);
        return result;
      }),
    'train:sanity': ({ config }) =>
      startCheck<SanityAnswer, OverfitResult>(core, 'sanity', config, 'the sanity check', ({ backend, learningRate, ...result }, ctx) => {
        ctx.log(`on ${backend} at ${learningRate}: ${result.passed ? 'passed' : 'failed'}`);
        return result;
      }),
    'train:showBatch': async ({ config, count, seed }): Promise<ShownBatch> => {
      const project = core.requireProject();
      const input = toolInput(project, fullConfig(config, 'showing a batch'));
      const answer = await trainingProcess(core).run<ShowBatchAnswer>('showBatch', { ...input, count, seed });
      const previewId = core.previews.add(answer.pngs.map((png) => Buffer.from(png.buffer, png.byteOffset, png.byteLength)));
      const picks = new Map(previewPicksById(project, answer.ids as ImageId[]).map((p) => [p.id, p]));
      const labelOf = shownLabels(input);
      return {
        previewId,
        items: answer.ids.map((id, index) => ({ index, imageId: id as ImageId, label: labelOf(id, answer.labels[index]!), path: picks.get(id)!.path })),
        inputShape: [input.inputSize, input.inputSize, input.channels],
        valueRange: answer.valueRange,
      };
    },
  };
}
