import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

/**
 * Files that run once. These use no Shipyard database (parsers, configuration, the schema's text,
 * the runtime server's API, the blob store, the process harness over its own data directories):
 */
const databaseFree = [
  'test/archive-inspector.test.ts',
  'test/config.test.ts',
  'test/fuzz-*.test.ts',
  'test/instances.test.ts',
  'test/runtime-api.test.ts',
  'test/schema-docs.test.ts',
  'test/schema.test.ts',
  'test/shared-blobs.test.ts',
  // the SQLite transaction gate itself, on files of its own
  'test/sqlite-transactions.test.ts',
];
/** and these make their own PostgreSQL databases and Redis channels whichever project runs them. */
const postgresOnly = [
  'test/postgres-layer.test.ts',
  'test/postgres-migrate.test.ts',
  'test/schema-parity.test.ts',
  'test/redis-events.test.ts',
  // Several server processes over one PostgreSQL database, Redis and BLOB_DIR (R58-R60).
  'test/multi-instance*.test.ts',
  'test/instance-consistency.test.ts',
  'test/job-leases.test.ts',
];

export default defineConfig({
  resolve: {
    // Vite would pick graphql's ESM build for our sources while yoga and Pothos get the CommonJS
    // one from Node; two copies break `instanceof GraphQLError`. One copy, as in production.
    alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve('graphql') }],
  },
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    setupFiles: ['test/setup.ts'],
    // The whole suite runs twice (R60): on SQLite files, and on PostgreSQL with live updates
    // through Redis, each test file with its own databases (test/kit.ts) and key prefix.
    projects: [
      { extends: true, test: { name: 'sqlite', include: ['test/**/*.test.ts'], exclude: postgresOnly } },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: ['test/**/*.test.ts'],
          exclude: databaseFree,
          env: { SHIPYARD_TEST_DATABASE: 'postgres', TEST_REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379' },
        },
      },
    ],
  },
});
