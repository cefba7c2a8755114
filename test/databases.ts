import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openPostgres } from '../src/db/postgres.js';

/**
 * Databases and key prefixes for tests on the shared PostgreSQL and Redis. Each test database is
 * copied from a migrated template, which is much faster than migrating it; the template is named
 * after the migrations, so it is built once and reused until they change.
 */

/** The server's maintenance database, from which test databases are created and dropped. */
export const postgresAdminUrl = process.env.SHIPYARD_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** Serializes building the template across vitest workers and runs: "SHIPTMPL" in ASCII. */
const TEMPLATE_LOCK = 0x53484950544d504cn;

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A URL naming `database` on the admin URL's server. */
export function databaseUrl(database: string): string {
  const url = new URL(postgresAdminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function admin<T extends pg.QueryResultRow>(statement: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: postgresAdminUrl });
  await client.connect();
  try {
    return (await client.query<T>(statement, params)).rows;
  } finally {
    await client.end();
  }
}

const migrationsFolder = fileURLToPath(new URL('../drizzle-pg', import.meta.url));

/** The template's name: a hash of every migration file, so a changed migration builds a new one. */
function templateName(): string {
  const hash = createHash('sha256');
  for (const file of readdirSync(migrationsFolder, { recursive: true, encoding: 'utf8' }).sort()) {
    if (!file.endsWith('.sql') && !file.endsWith('_journal.json')) continue;
    hash.update(file).update(readFileSync(`${migrationsFolder}/${file}`));
  }
  return `shipyard_template_${hash.digest('hex').slice(0, 16)}`;
}

let template: Promise<string> | undefined;

/** The migrated template, built under a lock by the first process that needs it. */
function migratedTemplate(): Promise<string> {
  template ??= (async () => {
    const name = templateName();
    const client = new pg.Client({ connectionString: postgresAdminUrl });
    await client.connect();
    try {
      await client.query('select pg_advisory_lock($1)', [TEMPLATE_LOCK.toString()]);
      const found = await client.query('select 1 from pg_database where datname = $1', [name]);
      if (found.rowCount === 0) {
        // Built under another name and renamed when complete: a run stopped halfway leaves no
        // template that looks ready.
        const building = `${name}_building`;
        await client.query(`drop database if exists "${building}" with (force)`);
        await client.query(`create database "${building}"`);
        const database = await openPostgres(databaseUrl(building));
        await database.close();
        await client.query(`alter database "${building}" rename to "${name}"`);
      }
      return name;
    } finally {
      await client.end();
    }
  })();
  template.catch(() => (template = undefined));
  return template;
}

function createAndDrop(name: string): TestDatabase {
  return { name, url: databaseUrl(name), drop: () => admin(`drop database if exists "${name}" with (force)`).then(() => undefined) };
}

const uniqueName = () => `shipyard_t_${process.pid}_${randomBytes(4).toString('hex')}`;

/** A new database with every migration applied, to drop when done. */
export async function postgresTestDatabase(): Promise<TestDatabase> {
  const source = await migratedTemplate();
  const name = uniqueName();
  await admin(`create database "${name}" template "${source}"`);
  return createAndDrop(name);
}

/** A new database with no tables at all, to drop when done. */
export async function emptyPostgresTestDatabase(): Promise<TestDatabase> {
  const name = uniqueName();
  await admin(`create database "${name}"`);
  return createAndDrop(name);
}

const created: TestDatabase[] = [];

/**
 * A fresh migrated database's URL when the tests run on PostgreSQL
 * (`SHIPYARD_TEST_DATABASE=postgres`), else undefined: the server then uses its SQLite file.
 * `dropTestDatabases` drops every database this gave.
 */
export async function testDatabaseUrl(): Promise<string | undefined> {
  if (process.env.SHIPYARD_TEST_DATABASE !== 'postgres') return undefined;
  const database = await postgresTestDatabase();
  created.push(database);
  return database.url;
}

/** Drops the databases `testDatabaseUrl` made in this process. */
export async function dropTestDatabases(): Promise<void> {
  await Promise.all(created.splice(0).map((database) => database.drop()));
}

/** A key prefix no other test, worker or run uses, for the shared Redis. */
export function redisTestPrefix(): string {
  return `shipyard:test:${process.pid}:${randomBytes(6).toString('hex')}:`;
}
