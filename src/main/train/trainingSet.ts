/**
 * The images a full-model run (and its LR finder and sanity checks) trains on: every active,
 * labelled image whose file is inside the project root, with its class index, split and size, read
 * together with the dataset version they belong to; and the network input the dataset suggests.
 */
import { LoupeError } from '../../shared/errors';
import type { FullConfig } from '../../shared/train';
import type { ImageId, SplitName } from '../../shared/types';
import { datasetVersion } from '../store/changes';
import type { Project } from '../store/project';
import { sql } from '../store/statements';
import { realFileInside } from '../util/paths';

/** One labelled image. */
export interface TrainingImage {
  id: ImageId;
  /** The real file, inside the project root. */
  file: string;
  label: number;
  split: SplitName | null;
  /** Size after EXIF orientation, and channels as imported (1 or 2: grayscale). */
  width: number | null;
  height: number | null;
  channels: number | null;
}

/** The labelled images of the project now. */
export interface TrainingSet {
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
  label: string;
  split: SplitName | null;
  width: number | null;
  height: number | null;
  channels: number | null;
}

/** Reads the training set; CONFLICT when there is nothing to train on. */
export function gatherTrainingSet(project: Project): TrainingSet {
  const { db } = project;
  const root = project.root();
  if (!root) throw new LoupeError('CONFLICT', 'Import images before training.');
  const { rows, version } = db.transaction(() => ({
    rows: sql(
      db,
      `SELECT i.id, i.path, c.name AS label, s.split, i.width, i.height, i.channels
         FROM images i
         JOIN labels l ON l.image_id = i.id
         JOIN classes c ON c.id = l.class_id
         LEFT JOIN splits s ON s.image_id = i.id
        WHERE i.status = 'active'
        ORDER BY i.id`,
    ).all() as Row[],
    version: datasetVersion(db),
  }))();
  const classes = [...new Set(rows.map((r) => r.label))].sort();
  if (classes.length < 2) throw new LoupeError('CONFLICT', 'Training needs at least two classes with labelled images.');
  const index = new Map(classes.map((c, i) => [c, i]));
  const images: TrainingImage[] = [];
  let missing = 0;
  for (const r of rows) {
    const file = realFileInside(root, r.path);
    if (!file) {
      missing++;
      continue;
    }
    images.push({ id: r.id, file, label: index.get(r.label)!, split: r.split, width: r.width, height: r.height, channels: r.channels });
  }
  if (!images.some((i) => i.split === 'train')) throw new LoupeError('CONFLICT', 'No labelled images are in the train split: assign splits first (loupe split, or the Splits view).');
  return { classes, images, version, missing };
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
