import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqlite, type SqliteDatabase } from '../src/db/sqlite.js';
import { accounts } from '../src/db/schema.js';

// The embedded database has one connection, and a transaction stays open across its awaits: the
// gate in src/db/sqlite.ts keeps every other caller's statements out of it until it ends.
describe('SQLite transactions that await (src/db/sqlite.ts)', () => {
  let dir = '';
  let database: SqliteDatabase | undefined;
  afterEach(async () => {
    await database?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const open = () => {
    dir = mkdtempSync(join(tmpdir(), 'shipyard-sqlite-tx-'));
    database = openSqlite(join(dir, 'shipyard.db'));
    return database.db;
  };

  it("keeps a caller outside an open transaction from seeing its rows, and from being undone by its rollback", async () => {
    const db = open();
    const [account] = await db.insert(accounts).values({ name: 'before' }).returning();
    if (!account) throw new Error('no account');
    let release = () => {};
    const paused = new Promise<void>((resolve) => (release = resolve));
    let inside = () => {};
    const opened = new Promise<void>((resolve) => (inside = resolve));
    const failing = db
      .transaction(async (tx) => {
        await tx.update(accounts).set({ name: 'uncommitted' }).where(eq(accounts.id, account.id));
        inside();
        await paused;
        throw new Error('roll back');
      })
      .catch((error: unknown) => (error as Error).message);
    await opened;
    // Issued while the transaction is open: they run after it ends, not inside it.
    const read = db.select({ name: accounts.name }).from(accounts).where(eq(accounts.id, account.id)).then((rows) => rows[0]?.name);
    const written = db.insert(accounts).values({ name: 'outside' }).returning().then((rows) => rows.length);
    release();
    expect(await failing).toBe('roll back');
    expect(await read).toBe('before');
    expect(await written).toBe(1);
    expect((await db.select().from(accounts)).map((row) => row.name).sort()).toEqual(['before', 'outside']);
  });

  it('lets statements inside the transaction through, also when made through the same db', async () => {
    const db = open();
    await db.transaction(async () => {
      await db.insert(accounts).values({ name: 'joined' });
      // A read inside sees the transaction's own row (it is not made to wait for itself).
      expect((await db.select().from(accounts)).map((row) => row.name)).toEqual(['joined']);
    });
    expect((await db.select().from(accounts)).map((row) => row.name)).toEqual(['joined']);
  });
});
