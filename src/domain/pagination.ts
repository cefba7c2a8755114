import { and, asc, desc, sql, type SQL } from 'drizzle-orm';
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core';
import { countRows, type Db } from '../db/client.js';
import { InputError } from './result.js';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export interface PageArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

export interface Page<T> {
  nodes: T[];
  /** One opaque cursor per node. */
  cursors: string[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  totalCount: number;
}

type SortValue = string | number;

/** How a list is ordered: by a sort expression, ties broken by a unique id column. */
export interface KeysetOrder<Row> {
  sortKey: SQL | SQLiteColumn;
  id: SQLiteColumn;
  direction: 'asc' | 'desc';
  /** The sort expression's value for a row, exactly as SQL computes it. */
  sortValue(row: Row): SortValue;
  idValue(row: Row): number;
  /**
   * Names the order inside its cursors when a list can be read in several orders, so that a
   * cursor of one order is refused by another instead of paging from the wrong place.
   */
  name?: string;
}

export interface KeysetSource<Row> {
  select(where: SQL | undefined, orderBy: SQL[], limit: number): Promise<Row[]>;
  count(where: SQL | undefined): Promise<number>;
}

/** Pages read straight from one table. */
export function tableSource<Table extends SQLiteTable>(db: Db, table: Table): KeysetSource<Table['$inferSelect']> {
  return {
    // Drizzle cannot type a select from a generic table; the rows are that table's.
    select: async (where, orderBy, limit) => (await db.select().from(table as SQLiteTable).where(where).orderBy(...orderBy).limit(limit)) as Table['$inferSelect'][],
    count: (where) => countRows(db, table, where),
  };
}

const encodeCursor = (value: SortValue, id: number, name: string | undefined): string =>
  Buffer.from(JSON.stringify(name === undefined ? [value, id] : [value, id, name])).toString('base64url');

function decodeCursor(cursor: string, argument: string, name: string | undefined): [SortValue, number] {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(parsed) &&
      parsed.length === (name === undefined ? 2 : 3) &&
      (typeof parsed[0] === 'string' || typeof parsed[0] === 'number') &&
      Number.isSafeInteger(parsed[1]) &&
      parsed[2] === name
    ) {
      return [parsed[0], parsed[1] as number];
    }
  } catch {
    // falls through to the error below
  }
  throw new InputError(`\`${argument}\` is not a cursor of this list in this order`);
}

function pageSize(args: PageArgs): { size: number; backward: boolean } {
  if (args.first != null && args.last != null) throw new InputError('Pass `first` or `last`, not both');
  for (const name of ['first', 'last'] as const) {
    const value = args[name];
    if (value != null && (value < 0 || value > MAX_PAGE_SIZE))
      throw new InputError(`\`${name}\` must be between 0 and ${MAX_PAGE_SIZE}`);
  }
  if (args.last != null) return { size: args.last, backward: true };
  if (args.first != null) return { size: args.first, backward: false };
  // `before` alone reads backwards from it, as `last` would.
  return { size: DEFAULT_PAGE_SIZE, backward: args.before != null && args.after == null };
}

/**
 * Cursor pagination both ways over a stable order (R44 caps pages at 100). Cursors carry the
 * sort value and id of a row, so pages stay correct while rows are added or removed.
 */
export async function keysetPage<Row>(
  source: KeysetSource<Row>,
  order: KeysetOrder<Row>,
  where: SQL | undefined,
  args: PageArgs,
): Promise<Page<Row>> {
  const { size, backward } = pageSize(args);
  const ascending = order.direction === 'asc';
  const bound = (cursor: string, argument: string, beyond: boolean): SQL => {
    const [value, id] = decodeCursor(cursor, argument, order.name);
    // Row values compare lexicographically, which is exactly (sortKey, id) order.
    return (beyond === ascending)
      ? sql`(${order.sortKey}, ${order.id}) > (${value}, ${id})`
      : sql`(${order.sortKey}, ${order.id}) < (${value}, ${id})`;
  };
  const conditions = [where];
  if (args.after != null) conditions.push(bound(args.after, 'after', true));
  if (args.before != null) conditions.push(bound(args.before, 'before', false));
  const filtered = and(...conditions);

  const forwardOrder = ascending ? asc : desc;
  const reverseOrder = ascending ? desc : asc;
  const by = backward ? reverseOrder : forwardOrder;
  const rows = size === 0 ? [] : await source.select(filtered, [by(order.sortKey), by(order.id)], size + 1);
  const more = rows.length > size;
  const nodes = rows.slice(0, size);
  if (backward) nodes.reverse();

  return {
    nodes,
    cursors: nodes.map((row) => encodeCursor(order.sortValue(row), order.idValue(row), order.name)),
    hasNextPage: backward ? args.before != null : more,
    hasPreviousPage: backward ? more : args.after != null,
    totalCount: await source.count(where),
  };
}

export type OrderDirection = 'ASC' | 'DESC';

/** A list's order as a client asks for it: one of the list's sort fields, and a direction. */
export interface OrderBy<Field extends string> {
  field: Field;
  direction: OrderDirection;
}

/** One named order of a list per sort field, turned by the client's direction. */
export function chooseOrder<Row, Field extends string>(
  orders: Record<Field, Omit<KeysetOrder<Row>, 'name' | 'direction'>>,
  orderBy: OrderBy<Field>,
): KeysetOrder<Row> {
  return { ...orders[orderBy.field], name: `${orderBy.field}:${orderBy.direction}`, direction: orderBy.direction === 'ASC' ? 'asc' : 'desc' };
}
