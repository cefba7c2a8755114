import type { DbOf } from '../../db/database.js';

/**
 * A database holding the runtime's tables: Shipyard's own for the embedded runtime, the runtime
 * server's file otherwise. Only table queries are used, never the relational API, so the schema
 * type does not matter.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any schema: Shipyard's or the runtime server's
export type RuntimeDb = DbOf<any>;
