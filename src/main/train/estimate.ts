/**
 * How long a full run will take, before it starts: this machine's rate, as the latest finished full
 * run of the same network and input measured it (images fed per second of training, every network
 * of the run together), times train images x epochs x networks (k folds + the final one).
 */
import type { FullConfig, TrainEstimate } from '../../shared/train';
import type { Project } from '../store/project';
import { foldsOf } from './fullFolds';
import { measuredFullRate, type RateMatch } from './runs';
import { chooseInput, gatherTrainingSet } from './trainingSet';

/** The estimate of `config` on the project's labelled images now. */
export function estimateFullRun(project: Project, config: FullConfig): TrainEstimate {
  if (!project.root()) return { seconds: null, basis: 'Import images first: the estimate counts the train images.' };
  const set = gatherTrainingSet(project);
  const train = set.images.filter((i) => i.split === 'train').length;
  if (train === 0) return { seconds: null, basis: 'No labelled images are in the train split.' };
  // A finetune run's input is its backbone's: the backbone stands for it.
  const input = config.arch === 'finetune' ? null : chooseInput(set.images, config);
  const match: RateMatch =
    config.arch === 'finetune'
      ? { arch: config.arch, inputSize: config.inputSize ?? null, channels: config.channels ?? null, backbone: config.backbone }
      : { arch: config.arch, inputSize: input!.inputSize, channels: input!.channels };
  const what = config.arch === 'finetune' ? `finetune of ${config.backbone}` : `${config.arch} at ${input!.inputSize}x${input!.inputSize}x${input!.channels}`;
  const rate = measuredFullRate(project.db, match);
  if (!rate) return { seconds: null, basis: `Cannot estimate yet: no finished full run of ${what} on this project has measured this machine's rate; the first one will.` };
  const k = foldsOf(config);
  // k fold networks each see (k - 1)/k of the train images, the final one all of them: k passes in all.
  const passes = k > 0 ? k : 1;
  const seconds = (train * config.epochs * passes) / rate.imagesPerSecond;
  const nets = k > 0 ? `${k + 1} networks (${k} folds on ${k - 1}/${k} of the images each, and the final one: ${k} passes)` : 'one network';
  return {
    seconds,
    basis: `${nets} x ${train} train images x ${config.epochs} epochs at ${rate.imagesPerSecond.toFixed(1)} images/s (${what}, measured by run ${rate.runId}); early stopping may end sooner.`,
  };
}
