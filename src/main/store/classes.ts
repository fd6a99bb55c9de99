/** Classes: names, lookup and creation. Merges and renames arrive with the curation issue. */
import { LoupeError } from '../../shared/errors';
import type { Db } from './db';
import { sql } from './statements';

/** A class row. */
export interface ClassRow {
  id: number;
  name: string;
}

/** The class called `name`, created when it does not exist yet. */
export function ensureClass(db: Db, name: string): ClassRow {
  const trimmed = name.trim();
  if (trimmed.length === 0) throw new LoupeError('VALIDATION', 'A class name cannot be empty.');
  const existing = findClass(db, trimmed);
  if (existing) return existing;
  const id = Number(sql(db, 'INSERT INTO classes (name, created_at) VALUES (?, ?)').run(trimmed, Date.now()).lastInsertRowid);
  return { id, name: trimmed };
}

/** The class called `name`, or null. */
export function findClass(db: Db, name: string): ClassRow | null {
  return (sql(db, 'SELECT id, name FROM classes WHERE name = ?').get(name.trim()) as ClassRow | undefined) ?? null;
}

/** The class called `name`; NOT_FOUND names the known classes so a typo is easy to see. */
export function requireClass(db: Db, name: string): ClassRow {
  const found = findClass(db, name);
  if (found) return found;
  const known = listClasses(db).map((c) => c.name);
  throw new LoupeError('NOT_FOUND', `Unknown class "${name}". Known classes: ${known.join(', ') || 'none'}.`, {
    name,
    known,
  });
}

/** Every class, by name. */
export function listClasses(db: Db): ClassRow[] {
  return sql(db, 'SELECT id, name FROM classes WHERE merged_into IS NULL ORDER BY name').all() as ClassRow[];
}
