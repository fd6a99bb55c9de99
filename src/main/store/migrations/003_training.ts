import type { Migration } from './types';

/**
 * Training: the embedding cache (keyed by backbone, content hash and augmentation view, so it
 * survives renames and is invalidated only when the image or the backbone changes), runs with their
 * curves, and per-image out-of-sample predictions.
 */
export const migration003: Migration = {
  version: 3,
  name: 'training',
  up(db) {
    db.exec(`
      CREATE TABLE embeddings (
        backbone     TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        view         INTEGER NOT NULL,
        dim          INTEGER NOT NULL,
        vector       BLOB NOT NULL,
        PRIMARY KEY (backbone, content_hash, view)
      ) WITHOUT ROWID;

      CREATE TABLE runs (
        id              INTEGER PRIMARY KEY,
        status          TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'cancelled')),
        config          TEXT NOT NULL,
        dataset_version INTEGER NOT NULL,
        backend         TEXT,
        backbone        TEXT,
        views           TEXT,
        classes         TEXT NOT NULL DEFAULT '[]',
        timings         TEXT,
        metrics         TEXT,
        error           TEXT,
        started_at      INTEGER NOT NULL,
        finished_at     INTEGER
      );

      CREATE TABLE run_curves (
        id        INTEGER PRIMARY KEY,
        run_id    INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        phase     TEXT NOT NULL,
        kind      TEXT NOT NULL CHECK (kind IN ('batch', 'epoch')),
        step      INTEGER NOT NULL,
        loss      REAL NOT NULL,
        val_loss  REAL,
        val_acc   REAL
      );
      CREATE INDEX run_curves_run ON run_curves (run_id, id);

      -- One row per image a run predicted. given/predicted are indexes into the run's class list;
      -- probabilities is a Float32 BLOB in that order; fold -1 is the final head.
      CREATE TABLE predictions (
        run_id        INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        image_id      INTEGER NOT NULL REFERENCES images (id),
        split         TEXT,
        fold          INTEGER NOT NULL,
        given         INTEGER,
        predicted     INTEGER NOT NULL,
        probability   REAL NOT NULL,
        given_prob    REAL,
        loss          REAL,
        probabilities BLOB NOT NULL,
        PRIMARY KEY (run_id, image_id)
      ) WITHOUT ROWID;
      CREATE INDEX predictions_loss ON predictions (run_id, loss DESC);
    `);
  },
};
