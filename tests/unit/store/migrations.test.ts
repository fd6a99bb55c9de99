import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { openDatabase, schemaVersion } from '../../../src/main/store/db';
import { latestSchemaVersion } from '../../../src/main/store/migrations';
import { tempDir } from '../../helpers/fixtures';
import { writeSchema1Project } from './helpers/schema1';

describe('migrations', () => {
  it('bring a schema-1 project up to date, keep its data and change log, and back it up first', async () => {
    const file = path.join(tempDir(), 'old.loupe');
    writeSchema1Project(file);
    const db = openDatabase(file);
    expect(schemaVersion(db)).toBe(latestSchemaVersion);
    expect(db.prepare('SELECT id, image_id AS imageId, class_id AS classId, field, old_value AS o, new_value AS n FROM changes').all()).toEqual([
      { id: 5, imageId: 1, classId: null, field: 'class', o: '1', n: '2' },
    ]);
    expect(db.prepare('SELECT reviewed FROM images WHERE id = 1').get()).toEqual({ reviewed: 0 });
    db.close();
    expect(fs.existsSync(`${file}.schema1.bak`)).toBe(true);
    // The migrated project works: the old edit can be undone through the change log.
    const core = new Core();
    await core.call('project:open', { file });
    expect(core.requireProject().info().version).toBe(5);
    await core.call('changes:undo', {});
    expect((await core.call('images:get', { id: 1 })).label).toBe('cat');
    await core.shutdown();
  });

  it('each migration runs in its own transaction: a failing step leaves the file at the step before', () => {
    const file = path.join(tempDir(), 'broken.loupe');
    writeSchema1Project(file);
    // A table in the way of migration 2's rebuild makes it fail part way.
    const raw = new Database(file);
    raw.exec('CREATE TABLE changes_v2 (x INTEGER)');
    raw.close();
    expect(() => openDatabase(file)).toThrow();
    const after = new Database(file);
    expect(after.pragma('user_version', { simple: true })).toBe(1);
    expect(after.prepare("SELECT count(*) AS n FROM pragma_table_info('images') WHERE name = 'reviewed'").get()).toEqual({ n: 0 });
    expect(after.prepare('SELECT count(*) AS n FROM changes').get()).toEqual({ n: 1 });
    after.close();
  });
});
