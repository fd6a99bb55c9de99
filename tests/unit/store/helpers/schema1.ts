/** An old-version project file, as the first release wrote it. */
import Database from 'better-sqlite3';
import path from 'node:path';
import { migrations } from '../../../../src/main/store/migrations';

/** Writes a schema-1 project: an image, two classes, a label, a split and one change (id 5). */
export function writeSchema1Project(file: string): void {
  const db = new Database(file);
  db.transaction(() => {
    migrations[0]!.up(db);
    db.pragma('user_version = 1');
  })();
  db.exec(`
    INSERT INTO meta (key, value) VALUES ('root', '.'), ('root_absolute', '${path.dirname(file)}');
    INSERT INTO images (id, path, source, content_hash, bytes, mtime_ms, status, created_at)
      VALUES (1, 'cat/a.png', 's', 'h1', 10, 1, 'active', 1);
    INSERT INTO classes (id, name, created_at) VALUES (1, 'cat', 1), (2, 'dog', 1);
    INSERT INTO labels (image_id, class_id) VALUES (1, 2);
    INSERT INTO splits (image_id, split) VALUES (1, 'train');
    INSERT INTO batches (id, kind, action, description, created_at) VALUES (1, 'edit', 'relabel', 'Relabelled 1 image as dog', 1);
    INSERT INTO changes (id, batch_id, image_id, field, old_value, new_value) VALUES (5, 1, 1, 'class', '1', '2');
  `);
  db.close();
}
