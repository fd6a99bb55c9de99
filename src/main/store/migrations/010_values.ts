import type { Migration } from './types';

/**
 * Numeric targets: each run records its task, and a regression run's per-image predictions live in
 * their own table (a value where a classification prediction has a class and probabilities, so each
 * table keeps NOT NULL where it matters and no classification reader meets a regression row).
 * actual: the value the image had when the run trained; residual = predicted - actual.
 */
export const migration010: Migration = {
  version: 10,
  name: 'values',
  up(db) {
    db.exec(`
      ALTER TABLE runs ADD COLUMN task TEXT NOT NULL DEFAULT 'classification' CHECK (task IN ('classification', 'regression'));
      ALTER TABLE runs ADD COLUMN value_metrics TEXT;

      CREATE TABLE value_predictions (
        run_id    INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        image_id  INTEGER NOT NULL REFERENCES images (id),
        split     TEXT,
        fold      INTEGER NOT NULL,
        actual    REAL,
        predicted REAL NOT NULL,
        residual  REAL,
        in_sample INTEGER NOT NULL DEFAULT 0 CHECK (in_sample IN (0, 1)),
        PRIMARY KEY (run_id, image_id)
      ) WITHOUT ROWID;
      CREATE INDEX value_predictions_residual ON value_predictions (run_id, abs(residual) DESC);
    `);
  },
};
