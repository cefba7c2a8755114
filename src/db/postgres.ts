import type { Database } from './database.js';

/** Placeholder until the PostgreSQL data layer lands. */
export function openPostgres(url: string, onStatement?: (sql: string) => void): Promise<Database> {
  void url;
  void onStatement;
  return Promise.reject(new Error('PostgreSQL is not built yet'));
}
