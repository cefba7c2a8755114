import { defineConfig } from 'drizzle-kit';

/**
 * The main database on PostgreSQL: the same tables as drizzle.config.ts (with the embedded
 * runtime's), declared for PostgreSQL only to write these migrations (src/db/schema.pg.ts).
 */
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.pg.ts',
  out: './drizzle-pg',
});
