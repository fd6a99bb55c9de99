/** Prepared statements cached per database: hot paths (imports, bulk edits) run the same SQL thousands of times. */
import type Database from 'better-sqlite3';
import type { Db } from './db';

const caches = new WeakMap<Db, Map<string, Database.Statement>>();

/** The prepared statement for `sql` on `db`, prepared once. */
export function sql(db: Db, text: string): Database.Statement {
  let cache = caches.get(db);
  if (!cache) {
    cache = new Map();
    caches.set(db, cache);
  }
  let statement = cache.get(text);
  if (!statement) {
    statement = db.prepare(text);
    cache.set(text, statement);
  }
  return statement;
}
