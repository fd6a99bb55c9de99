/**
 * The images a full-model run (and its LR finder and sanity checks) trains on: every active,
 * labelled image whose file is inside the project root, with its class index (or, on a regression
 * project, its value), split and size, read together with the dataset version they belong to; and
 * the network input the dataset suggests.
 */
import { LoupeError } from '../../shared/errors';
import { assertNever } from '../../shared/assertNever';
import type { Task } from '../../shared/regression';
import type { FullConfig } from '../../shared/train';
import type { ImageId, SplitName } from '../../shared/types';
import { datasetVersion } from '../store/changes';
import { projectTask, type Project } from '../store/project';
import { sql } from '../store/statements';
import { realFileInside } from '../util/paths';

/** One labelled image. */
export interface TrainingImage {
  id: ImageId;
  /** The real file, inside the project root. */
  file: string;
  /** The class index (classification), or the value in the user's units (regression). */
  label: number;
  split: SplitName | null;
  /** Size after EXIF orientation, and channels as imported (1 or 2: grayscale). */
  width: number | null;
  height: number | null;
  channels: number | null;
}

/** The labelled images of the project now. */
export interface TrainingSet {
  task: Task;
  /** The classes, sorted ([] for regression). */
  classes: string[];
  images: TrainingImage[];
  /** The dataset version these labels and splits are of. */
  version: number;
  /** Labelled images left out because their file is not inside the project root. */
  missing: number;
}

interface Row {
  id: ImageId;
  path: string;
  /** The class name, or the value. */
  label: string | number;
  split: SplitName | null;
  width: number | null;
  height: number | null;
  channels: number | null;
}

/** What the labels of a task are: the column read, and how a row's becomes a training label. */
const labelColumns: Record<Task, { select: string; join: string }> = {
  classification: { select: 'c.name', join: 'JOIN classes c ON c.id = l.class_id' },
  regression: { select: 'l.value', join: '' },
};

/**
 * Reads the training set of `task` (default: the project's, classification before anything is
 * labelled); CONFLICT when there is nothing to train on.
 */
export function gatherTrainingSet(project: Project, task: Task = projectTask(project.db) ?? 'classification'): TrainingSet {
  const { db } = project;
  const root = project.root();
  if (!root) throw new LoupeError('CONFLICT', 'Import images before training.');
  const column = labelColumns[task];
  const { rows, version } = db.transaction(() => ({
    rows: sql(
      db,
      `SELECT i.id, i.path, ${column.select} AS label, s.split, i.width, i.height, i.channels
         FROM images i
         JOIN labels l ON l.image_id = i.id
         ${column.join}
         LEFT JOIN splits s ON s.image_id = i.id
        WHERE i.status = 'active' AND ${column.select} IS NOT NULL
        ORDER BY i.id`,
    ).all() as Row[],
    version: datasetVersion(db),
  }))();
  const { classes, labelOf } = labelsOf(task, rows);
  const images: TrainingImage[] = [];
  let missing = 0;
  for (const r of rows) {
    const file = realFileInside(root, r.path);
    if (!file) {
      missing++;
      continue;
    }
    images.push({ id: r.id, file, label: labelOf(r.label), split: r.split, width: r.width, height: r.height, channels: r.channels });
  }
  const train = images.filter((i) => i.split === 'train').length;
  if (train === 0) throw new LoupeError('CONFLICT', 'No labelled images are in the train split: assign splits first (loupe split, or the Splits view).');
  if (task === 'regression' && train < 2) {
    throw new LoupeError('CONFLICT', 'Training a regression network needs values on at least two train images; give images values or assign splits first.');
  }
  return { task, classes, images, version, missing };
}

/** A task's classes and each row's training label: a class index, or the value itself; CONFLICT without two classes. */
function labelsOf(task: Task, rows: readonly Row[]): { classes: string[]; labelOf(label: Row['label']): number } {
  switch (task) {
    case 'classification': {
      const classes = [...new Set(rows.map((r) => String(r.label)))].sort();
      if (classes.length < 2) throw new LoupeError('CONFLICT', 'Training needs at least two classes with labelled images.');
      const index = new Map(classes.map((c, i) => [c, i]));
      return { classes, labelOf: (label) => index.get(String(label))! };
    }
    case 'regression':
      return { classes: [], labelOf: Number };
    default:
      return assertNever(task, 'task');
  }
}

/** The smallest and largest input side chosen from a dataset. */
export const inputSideRange = [16, 224] as const;

/**
 * The network's input: the config's when given; otherwise the dataset's typical (median) shorter
 * side clamped to 16..224, and one channel when every image is grayscale.
 */
export function chooseInput(images: readonly TrainingImage[], config: Pick<FullConfig, 'inputSize' | 'channels'>): { inputSize: number; channels: 1 | 3 } {
  let inputSize = config.inputSize;
  if (inputSize === undefined) {
    const sides = images
      .map((i) => (i.width && i.height ? Math.min(i.width, i.height) : null))
      .filter((s): s is number => s !== null)
      .sort((a, b) => a - b);
    const median = sides.length > 0 ? sides[Math.floor(sides.length / 2)]! : inputSideRange[1];
    inputSize = Math.max(inputSideRange[0], Math.min(inputSideRange[1], median));
  }
  const channels = config.channels ?? (images.length > 0 && images.every((i) => i.channels !== null && i.channels <= 2) ? 1 : 3);
  return { inputSize, channels };
}
