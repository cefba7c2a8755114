import { is, sql, type SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { Db } from './database.js';
import { publishJobs } from './schema.js';

/** Whether `db` speaks PostgreSQL; drizzle keeps the dialect on the database and its transactions. */
const isPostgres = (db: Db): boolean => is((db as unknown as { dialect?: unknown }).dialect, PgDialect);

/**
 * The oldest QUEUED job's id, as the subquery of the one UPDATE that claims it (R59). On
 * PostgreSQL the row is locked and rows another claim has locked are skipped, so claimers running
 * at once take different jobs instead of queueing on one; SQLite's single writer makes the
 * statement atomic as it stands. The claim repeats `state = 'QUEUED'` in its own WHERE either way.
 */
export function oldestQueuedJob(db: Db): SQL {
  const lock = isPostgres(db) ? sql` for update skip locked` : sql``;
  return sql`(select ${publishJobs.id} from ${publishJobs} where ${publishJobs.state} = 'QUEUED' order by ${publishJobs.id} limit 1${lock})`;
}
