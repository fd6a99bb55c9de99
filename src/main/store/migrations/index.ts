import { migration001 } from './001_initial';
import { migration002 } from './002_curation';
import { migration003 } from './003_training';
import { migration004 } from './004_owners';
import { migration005 } from './005_full_model';
import { migration006 } from './006_health';
import { migration007 } from './007_queue';
import { migration008 } from './008_experiments';
import { migration009 } from './009_fold_heads';
import { migration010 } from './010_values';
import type { Migration } from './types';

/** Every migration, in order. The last one's version is the schema this build writes. */
export const migrations: readonly Migration[] = [migration001, migration002, migration003, migration004, migration005, migration006, migration007, migration008, migration009, migration010];

/** The schema version this build of Loupe reads and writes. */
export const latestSchemaVersion = migrations[migrations.length - 1]!.version;
