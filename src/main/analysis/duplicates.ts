/**
 * The health check's label conflicts as a label-error signal: images in a verified duplicate group
 * (exact or near) whose members carry different labels. Read from the stored health results, so
 * the queue costs one indexed query; when the set changes only the fusion step of the queue's
 * analysis reruns (runSignals.ts withDuplicates).
 */
import type { ImageId } from '../../shared/types';
import type { Db } from '../store/db';
import { imagesFlagged } from '../store/health';

/** The images with a differently labelled duplicate, or null when the health checks have not run. */
export function conflictingDuplicates(db: Db): ReadonlySet<ImageId> | null {
  return imagesFlagged(db, 'labelConflict');
}
