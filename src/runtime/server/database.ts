import { fileURLToPath } from 'node:url';
import { openSqliteWith } from '../../db/sqlite.js';
import * as runtimeSchema from '../schema.js';
import * as serverSchema from './schema.js';
import type { RuntimeDb } from '../embedded/db.js';

const migrationsFolder = fileURLToPath(new URL('../../../drizzle-runtime', import.meta.url));

/** A runtime server's own SQLite file: only the runtime's tables, migrated from drizzle-runtime/. */
export function openRuntimeDatabase(file: string): { db: RuntimeDb; close(): Promise<void> } {
  const database = openSqliteWith(file, {
    schema: { ...runtimeSchema, ...serverSchema },
    migrationsFolder,
    // Every change is acknowledged only once it is on disk: a runtime killed right after answering keeps it (R52).
    synchronous: 'FULL',
  });
  return { db: database.db, close: () => database.close() };
}
