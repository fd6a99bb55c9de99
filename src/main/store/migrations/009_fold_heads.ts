import type { Migration } from './types';

/**
 * Fold-head predictions: a quick run's k fold heads each predict the images outside the folds
 * (test, unlabelled), so an ensemble of the fold heads can average them. One row per run and
 * image; probabilities is a Float32 BLOB of folds x classes (the run's class order).
 */
export const migration009: Migration = {
  version: 9,
  name: 'fold heads',
  up(db) {
    db.exec(`
      CREATE TABLE run_fold_predictions (
        run_id        INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        image_id      INTEGER NOT NULL REFERENCES images (id),
        folds         INTEGER NOT NULL,
        probabilities BLOB NOT NULL,
        PRIMARY KEY (run_id, image_id)
      ) WITHOUT ROWID;
    `);
  },
};
