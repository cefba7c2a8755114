import { createInterface } from 'node:readline';
import { openPostgres } from '../src/db/postgres.js';

/**
 * Opens the PostgreSQL database at argv[2] when told "go" on stdin, so that several of these
 * processes, loaded first, open it at the same moment. Says "ready", then "opened" or the error.
 */
const url = process.argv[2];
if (!url) throw new Error('usage: postgres-open-child.ts <url>');
const lines = createInterface({ input: process.stdin });
console.log('ready');
for await (const line of lines) {
  if (line !== 'go') continue;
  try {
    const database = await openPostgres(url);
    await database.close();
    console.log('opened');
  } catch (error) {
    console.log(`failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
  break;
}
lines.close();
