import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { fileURLToPath } from 'node:url';
import * as runtimeSchema from '../schema.js';
import * as serverSchema from './schema.js';
import type { RuntimeDb } from '../embedded/db.js';

const migrationsFolder = fileURLToPath(new URL('../../../drizzle-runtime', import.meta.url));

/** A runtime server's own SQLite file: only the runtime's tables, migrated from drizzle-runtime/. */
export function openRuntimeDatabase(file: string): { db: RuntimeDb; close(): void } {
  const sqlite = new Database(file);
  sqlite.pragma('journal_mode = WAL');
  // Every change is acknowledged only once it is on disk: a runtime killed right after answering keeps it (R52).
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = drizzle(sqlite, { schema: { ...runtimeSchema, ...serverSchema } });
  migrate(db, { migrationsFolder });
  return { db, close: () => sqlite.open && sqlite.close() };
}
