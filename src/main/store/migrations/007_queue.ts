import type { Migration } from './types';

/**
 * The label-error queue's stored part: per run, each labelled image's nearest images by the run's
 * embeddings (computed once: a run's predictions and the cached vectors never change), and which
 * embeddings they came from or why there were none. Everything else the queue shows is computed from
 * these and the predictions in milliseconds.
 */
export const migration007: Migration = {
  version: 7,
  name: 'label-error queue',
  up(db) {
    db.exec(`
      CREATE TABLE run_neighbours (
        run_id       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        image_id     INTEGER NOT NULL REFERENCES images (id),
        -- Int32 image ids and Float32 cosine similarities, nearest first.
        neighbours   BLOB NOT NULL,
        similarities BLOB NOT NULL,
        PRIMARY KEY (run_id, image_id)
      ) WITHOUT ROWID;

      CREATE TABLE run_neighbour_sources (
        run_id      INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
        -- the embedding cache's backbone key, or NULL when the run's images had no vectors
        embedding   TEXT,
        k           INTEGER NOT NULL,
        note        TEXT,
        computed_at INTEGER NOT NULL
      );
    `);
  },
};
