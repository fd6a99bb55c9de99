import type { Migration } from './types';

/**
 * Data health: per-content features (computed once at import, or by the health job for older
 * images), the per-image flags of the last health run (what the gallery filters on), the last
 * run's results keyed by dataset version, and duplicate groups a person dismissed.
 */
export const migration006: Migration = {
  version: 6,
  name: 'health',
  up(db) {
    db.exec(`
      -- grey: 32x32 grey thumbnail; dhash, phash: 8 bytes each; pixel_hash: SHA-256 of decoded pixels.
      CREATE TABLE health_features (
        content_hash  TEXT PRIMARY KEY,
        pixel_hash    TEXT NOT NULL,
        grey          BLOB NOT NULL,
        dhash         BLOB NOT NULL,
        phash         BLOB NOT NULL,
        brightness    REAL NOT NULL,
        contrast      REAL NOT NULL,
        entropy       REAL NOT NULL,
        sharpness     REAL NOT NULL,
        colourfulness REAL NOT NULL
      );
      -- flag: a quality check or exactDuplicate / nearDuplicate / leakage / labelConflict.
      CREATE TABLE health_flags (
        flag     TEXT NOT NULL,
        image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
        value    REAL,
        reason   TEXT NOT NULL,
        PRIMARY KEY (flag, image_id)
      ) WITHOUT ROWID;
      CREATE INDEX health_flags_image ON health_flags (image_id);
      -- One row: the last results (report and groups as JSON) and the version they are for.
      CREATE TABLE health_results (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        version     INTEGER NOT NULL,
        dismissals  INTEGER NOT NULL,
        computed_at INTEGER NOT NULL,
        report      TEXT NOT NULL,
        groups      TEXT NOT NULL
      );
      CREATE TABLE health_dismissed (
        group_key  TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL
      );
    `);
  },
};
