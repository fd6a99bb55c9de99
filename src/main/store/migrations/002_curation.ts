import type { Migration } from './types';

/**
 * Curation: the change log can target classes (rename, merge, delete) as well as images, and
 * images gain a `reviewed` flag. SQLite cannot alter a CHECK constraint, so `changes` is rebuilt.
 */
export const migration002: Migration = {
  version: 2,
  name: 'curation',
  up(db) {
    db.exec(`
      ALTER TABLE images ADD COLUMN reviewed INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE classes ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;

      CREATE TABLE changes_v2 (
        id        INTEGER PRIMARY KEY,
        batch_id  INTEGER NOT NULL REFERENCES batches (id),
        image_id  INTEGER REFERENCES images (id),
        class_id  INTEGER REFERENCES classes (id),
        field     TEXT NOT NULL CHECK (field IN (
                    'class', 'value', 'split', 'status', 'reviewed',
                    'class.name', 'class.merged_into', 'class.deleted')),
        old_value TEXT,
        new_value TEXT,
        CHECK ((image_id IS NULL) <> (class_id IS NULL))
      );
      INSERT INTO changes_v2 (id, batch_id, image_id, field, old_value, new_value)
        SELECT id, batch_id, image_id, field, old_value, new_value FROM changes;
      DROP TABLE changes;
      ALTER TABLE changes_v2 RENAME TO changes;
      CREATE INDEX changes_batch ON changes (batch_id);
      CREATE INDEX changes_image ON changes (image_id, id);
      CREATE INDEX changes_class ON changes (class_id, id);

      CREATE INDEX images_path ON images (status, path);
      CREATE INDEX images_reviewed ON images (status, reviewed, id);
    `);
  },
};
