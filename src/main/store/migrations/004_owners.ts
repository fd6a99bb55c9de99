import type { Migration } from './types';

/** Loupe's SQLite application id ("LOUP"), stamped in the file header so other databases are told apart. */
export const loupeApplicationId = 0x4c4f5550;

/**
 * Owners: the process that started an import or a training run leaves a lease (pid, host, heartbeat),
 * so that opening the project elsewhere recovers only jobs whose owner is gone. Also stamps the
 * application id, which earlier files lack.
 */
export const migration004: Migration = {
  version: 4,
  name: 'owners',
  up(db) {
    db.exec(`
      CREATE TABLE owners (
        id           TEXT PRIMARY KEY,
        pid          INTEGER NOT NULL,
        host         TEXT NOT NULL,
        heartbeat_at INTEGER NOT NULL
      );
      ALTER TABLE imports ADD COLUMN owner TEXT;
      ALTER TABLE runs ADD COLUMN owner TEXT;
      PRAGMA application_id = ${loupeApplicationId};
    `);
  },
};
