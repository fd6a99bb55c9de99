import type { Migration } from './types';

/** The first schema: images, classes, labels, splits, the change log, thumbnails, imports. */
export const migration001: Migration = {
  version: 1,
  name: 'initial',
  up(db) {
    db.exec(`
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );

      CREATE TABLE imports (
        id          INTEGER PRIMARY KEY,
        source      TEXT NOT NULL,
        kind        TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('running', 'done', 'cancelled', 'interrupted', 'failed')),
        started_at  INTEGER NOT NULL,
        finished_at INTEGER,
        summary     TEXT
      );

      CREATE TABLE images (
        id              INTEGER PRIMARY KEY,
        path            TEXT NOT NULL UNIQUE,
        source          TEXT NOT NULL,
        content_hash    TEXT,
        perceptual_hash TEXT,
        width           INTEGER,
        height          INTEGER,
        channels        INTEGER,
        format          TEXT,
        bytes           INTEGER NOT NULL,
        mtime_ms        INTEGER NOT NULL,
        status          TEXT NOT NULL CHECK (status IN ('active', 'removed', 'unreadable', 'missing')),
        error           TEXT,
        created_at      INTEGER NOT NULL
      );
      CREATE INDEX images_status ON images (status, id);
      CREATE INDEX images_source ON images (source);
      CREATE INDEX images_content_hash ON images (content_hash);

      CREATE TABLE classes (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        merged_into INTEGER REFERENCES classes (id),
        created_at  INTEGER NOT NULL
      );

      CREATE TABLE labels (
        image_id INTEGER PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
        class_id INTEGER REFERENCES classes (id),
        value    REAL
      );
      CREATE INDEX labels_class ON labels (class_id, image_id);

      CREATE TABLE splits (
        image_id INTEGER PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
        split    TEXT NOT NULL CHECK (split IN ('train', 'valid', 'test')),
        locked   INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX splits_split ON splits (split, image_id);

      -- The change log. A batch is one user action (or one import chunk); undo and redo append
      -- inverse batches, so the log only grows and the dataset version is its last change id.
      CREATE TABLE batches (
        id          INTEGER PRIMARY KEY,
        kind        TEXT NOT NULL CHECK (kind IN ('edit', 'undo', 'redo', 'import')),
        action      TEXT NOT NULL,
        description TEXT NOT NULL,
        -- edit batches: 0 done, 1 undone (redoable), 2 undone and superseded by a later edit
        undone      INTEGER NOT NULL DEFAULT 0,
        reverts     INTEGER REFERENCES batches (id),
        created_at  INTEGER NOT NULL
      );
      CREATE TABLE changes (
        id        INTEGER PRIMARY KEY,
        batch_id  INTEGER NOT NULL REFERENCES batches (id),
        image_id  INTEGER NOT NULL REFERENCES images (id),
        field     TEXT NOT NULL CHECK (field IN ('class', 'value', 'split', 'status')),
        old_value TEXT,
        new_value TEXT
      );
      CREATE INDEX changes_batch ON changes (batch_id);
      CREATE INDEX changes_image ON changes (image_id, id);

      CREATE TABLE thumbnails (
        content_hash TEXT PRIMARY KEY,
        width        INTEGER NOT NULL,
        height       INTEGER NOT NULL,
        webp         BLOB NOT NULL
      );
    `);
  },
};
