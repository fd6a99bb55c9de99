import type Database from 'better-sqlite3';

/** One numbered schema step. Shipped migrations are never edited; a new change is a new file. */
export interface Migration {
  version: number;
  name: string;
  up(db: Database.Database): void;
}
