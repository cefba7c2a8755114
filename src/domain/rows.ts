/** Rows in the order of `ids`, null where none has that id: the shape batch loaders answer. */
export function inIdOrder<T extends { id: number }>(ids: readonly number[], rows: readonly T[]): (T | null)[] {
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => byId.get(id) ?? null);
}

/** One list per key, in the order of `keys`, for loaders that batch one-to-many reads. */
export function listsByKey<Row, Key, Item = Row>(
  keys: readonly Key[],
  rows: readonly Row[],
  keyOf: (row: Row) => Key,
  itemOf: (row: Row) => Item = (row) => row as unknown as Item,
): Item[][] {
  const lists = new Map<Key, Item[]>(keys.map((key) => [key, []]));
  for (const row of rows) lists.get(keyOf(row))?.push(itemOf(row));
  return keys.map((key) => lists.get(key) ?? []);
}

/** Loads the ids that can name a row in one batch; null ids (malformed ones) stay null. */
export async function byNullableIds<T>(ids: readonly (number | null)[], load: (known: number[]) => Promise<(T | null)[]>): Promise<(T | null)[]> {
  const known = ids.filter((id): id is number => id !== null);
  const rows = await load(known);
  const byId = new Map(known.map((id, index) => [id, rows[index] ?? null]));
  return ids.map((id) => (id === null ? null : (byId.get(id) ?? null)));
}
