import { defineConfig } from 'drizzle-kit';

/** A runtime server's own database (R45): only the runtime's tables. */
export default defineConfig({
  dialect: 'sqlite',
  schema: ['./src/runtime/schema.ts', './src/runtime/server/schema.ts'],
  out: './drizzle-runtime',
});
