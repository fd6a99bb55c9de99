import type { Migration } from './types';

/**
 * Experiments: hyperparameter searches (their settings and trials), each run's place in them
 * (a search trial at a rung budget, or an ensemble with its members), the baselines computed with
 * every run, and a cache of the tiny grey pixel grids the linear baseline trains on (keyed by
 * content hash, so it survives renames and edits of labels).
 */
export const migration008: Migration = {
  version: 8,
  name: 'experiments',
  up(db) {
    db.exec(`
      CREATE TABLE searches (
        id          INTEGER PRIMARY KEY,
        status      TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'cancelled')),
        job_id      TEXT,
        base        TEXT NOT NULL,
        space       TEXT NOT NULL,
        settings    TEXT NOT NULL,
        trials      TEXT NOT NULL DEFAULT '[]',
        note        TEXT,
        owner       TEXT,
        started_at  INTEGER NOT NULL,
        finished_at INTEGER
      );

      CREATE TABLE run_experiments (
        run_id    INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
        role      TEXT NOT NULL CHECK (role IN ('trial', 'ensemble')),
        search_id INTEGER REFERENCES searches (id) ON DELETE CASCADE,
        trial     INTEGER,
        budget    INTEGER,
        -- ensembles: EnsembleMember[] and the EnsembleSource, as JSON
        members   TEXT,
        source    TEXT
      );
      CREATE INDEX run_experiments_search ON run_experiments (search_id, trial);

      CREATE TABLE run_baselines (
        run_id    INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
        baselines TEXT NOT NULL
      );

      CREATE TABLE baseline_pixels (
        content_hash TEXT NOT NULL,
        size         INTEGER NOT NULL,
        -- size x size grey levels, one byte each
        pixels       BLOB NOT NULL,
        PRIMARY KEY (content_hash, size)
      ) WITHOUT ROWID;
    `);
  },
};
