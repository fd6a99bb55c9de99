import { migration001 } from './001_initial';
import type { Migration } from './types';

/** Every migration, in order. The last one's version is the schema this build writes. */
export const migrations: readonly Migration[] = [migration001];

/** The schema version this build of Loupe reads and writes. */
export const latestSchemaVersion = migrations[migrations.length - 1]!.version;
