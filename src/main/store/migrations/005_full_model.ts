import type { Migration } from './types';

/**
 * The full model: the network a run trained (`runs.model`, a ModelUsed as JSON), each curve point's
 * learning rate, predictions marked in-sample (a full run's train images were fitted on, so their
 * predictions are never out-of-sample and never feed a review queue), and checkpoints: per run the
 * last epoch's and the best epoch's weights and optimizer state, older ones replaced.
 */
export const migration005: Migration = {
  version: 5,
  name: 'full model',
  up(db) {
    db.exec(`
      ALTER TABLE runs ADD COLUMN model TEXT;
      ALTER TABLE run_curves ADD COLUMN learning_rate REAL;
      ALTER TABLE predictions ADD COLUMN in_sample INTEGER NOT NULL DEFAULT 0 CHECK (in_sample IN (0, 1));

      -- weights and optimizer: encoded named Float32 arrays (train/checkpoints.ts); state: JSON of
      -- the loop's position (epoch, step) and early stopping's best so far.
      CREATE TABLE run_checkpoints (
        run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        kind       TEXT NOT NULL CHECK (kind IN ('last', 'best')),
        epoch      INTEGER NOT NULL,
        step       INTEGER NOT NULL,
        weights    BLOB NOT NULL,
        optimizer  BLOB NOT NULL,
        state      TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (run_id, kind)
      ) WITHOUT ROWID;
    `);
  },
};
