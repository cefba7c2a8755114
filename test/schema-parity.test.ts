import { Column, getTableName, is, SQL, StringChunk, type Table } from 'drizzle-orm';
import { IndexedColumn, getTableConfig as pgTableConfig, PgTable } from 'drizzle-orm/pg-core';
import { getTableConfig as sqliteTableConfig, SQLiteTable } from 'drizzle-orm/sqlite-core';
import { describe, expect, it } from 'vitest';
import * as pgSchema from '../src/db/schema.pg.js';
import * as sqliteSchema from '../src/db/schema.js';

/**
 * PostgreSQL runs the SQLite table objects, and its tables come from the PostgreSQL declarations:
 * a column, key, index or check present in one and not the other would break queries or drop an
 * invariant on one dialect only.
 */

/** An expression as text, columns by name: `lower("email")`. */
function render(value: unknown): string {
  if (is(value, Column) || is(value, IndexedColumn)) return `"${value.name}"`;
  if (is(value, SQL)) return value.queryChunks.map(render).join('');
  if (is(value, StringChunk)) return value.value.join('');
  return String(value);
}

/** What each SQLite column type must be stored as on PostgreSQL (the value its mapToDriverValue gives). */
const storedAs: Record<string, string[]> = {
  SQLiteInteger: ['PgInteger', 'PgBigInt53'],
  SQLiteTimestamp: ['PgBigInt53'],
  SQLiteBoolean: ['PgInteger'],
  SQLiteText: ['PgText'],
  SQLiteTextJson: ['PgText'],
};

interface Shape {
  /** `default` is the database's default; `$defaultFn` runs in the application on both dialects. */
  columns: Record<string, { notNull: boolean; default: unknown; identity: boolean }>;
  primaryKey: string[];
  indexes: { name: string; unique: boolean; on: string[]; where: string | null }[];
  checks: { name: string; value: string }[];
  foreignKeys: { name: string; columns: string[]; table: string; foreignColumns: string[]; onDelete: string; onUpdate: string }[];
}

type Config = ReturnType<typeof sqliteTableConfig> | ReturnType<typeof pgTableConfig>;

function shape(config: Config, identity: (column: Column) => boolean, defaultOf: (column: Column) => unknown): Shape {
  const columns = config.columns as Column[];
  const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
  return {
    columns: Object.fromEntries(
      columns.map((c) => [c.name, { notNull: c.notNull, default: c.default === undefined ? undefined : defaultOf(c), identity: identity(c) }]),
    ),
    primaryKey: [
      ...columns.filter((c) => c.primary).map((c) => c.name),
      ...config.primaryKeys.flatMap((pk) => pk.columns.map((c) => c.name)),
    ].sort(),
    indexes: [
      ...columns.filter((c) => c.isUnique).map((c) => ({ name: c.uniqueName ?? '', unique: true, on: [`"${c.name}"`], where: null })),
      ...config.uniqueConstraints.map((u) => ({ name: u.name ?? '', unique: true, on: u.columns.map(render), where: null })),
      ...config.indexes.map(({ config: i }) => ({
        name: i.name ?? '',
        unique: i.unique,
        on: (i.columns as unknown[]).map(render),
        where: i.where ? render(i.where) : null,
      })),
    ].sort(byName),
    checks: config.checks.map((c) => ({ name: c.name, value: render(c.value) })).sort(byName),
    foreignKeys: config.foreignKeys
      .map((fk) => {
        const reference = fk.reference();
        return {
          name: fk.getName(),
          columns: reference.columns.map((c) => c.name),
          table: getTableName(reference.foreignTable as Table),
          foreignColumns: reference.foreignColumns.map((c) => c.name),
          onDelete: fk.onDelete ?? 'no action',
          onUpdate: fk.onUpdate ?? 'no action',
        };
      })
      .sort(byName),
  };
}

const sqliteTables = (Object.values(sqliteSchema) as unknown[]).filter((value): value is SQLiteTable => is(value, SQLiteTable));
const pgTables = (Object.values(pgSchema) as unknown[]).filter((value): value is PgTable => is(value, PgTable));

const sqliteShape = (table: SQLiteTable) =>
  shape(
    sqliteTableConfig(table),
    (c) => 'autoIncrement' in c && c.autoIncrement === true,
    // What SQLite's column hands the driver: `false` is stored as 0.
    (c) => c.mapToDriverValue(c.default),
  );
const pgShape = (table: PgTable) =>
  shape(
    pgTableConfig(table),
    (c) => 'generatedIdentity' in c && c.generatedIdentity !== undefined,
    (c) => c.default,
  );

describe('the PostgreSQL declarations match the SQLite ones', () => {
  it('declare the same tables', () => {
    expect(pgTables.map((t) => getTableName(t)).sort()).toEqual(sqliteTables.map((t) => getTableName(t)).sort());
    expect(sqliteTables.length).toBeGreaterThan(20);
  });

  for (const table of sqliteTables) {
    const name = getTableName(table);
    it(`${name}: columns, keys, indexes, checks and foreign keys`, () => {
      const pgTable = pgTables.find((t) => getTableName(t) === name);
      if (!pgTable) throw new Error(`no PostgreSQL table ${name}`);
      expect(pgShape(pgTable)).toEqual(sqliteShape(table));
    });

    it(`${name}: each column stored as what SQLite's column writes`, () => {
      const pgTable = pgTables.find((t) => getTableName(t) === name);
      if (!pgTable) throw new Error(`no PostgreSQL table ${name}`);
      const pgColumns = new Map(pgTableConfig(pgTable).columns.map((c) => [c.name, c.columnType]));
      for (const column of sqliteTableConfig(table).columns) {
        expect({ column: column.name, type: storedAs[column.columnType]?.includes(pgColumns.get(column.name) ?? '') }).toEqual({
          column: column.name,
          type: true,
        });
      }
    });
  }
});
