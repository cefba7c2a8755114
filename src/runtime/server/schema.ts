import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * A runtime server may host several environments, each under its own path
 * (`http://host:4100/dev`, `http://host:4100/prod`); the root path is environment 0.
 */
export const runtimeEnvironments = sqliteTable('runtime_environments', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  path: text('path').notNull().unique(),
});
