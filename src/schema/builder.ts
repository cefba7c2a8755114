import SchemaBuilder from '@pothos/core';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import RelayPlugin, { decodeGlobalID } from '@pothos/plugin-relay';
import { GraphQLError, isObjectType, type GraphQLSchema } from 'graphql';
import { DateTimeISOResolver, SafeIntResolver } from 'graphql-scalars';
import type { Domain } from '../domain/index.js';
import { InputError } from '../domain/result.js';
import type { Principal } from '../domain/principal.js';
import type { Loaders } from './loaders.js';
import type { Realtime } from './realtime.js';

/** What every resolver sees. Requests without a valid token never get this far (R5). */
export interface Context {
  principal: Principal;
  domain: Domain;
  /** The origin of the links we hand out: PUBLIC_URL, never the request's Host (R64). */
  origin: string;
  loaders: Loaders;
  realtime: Realtime;
  /** Ends the caller's connection: how a subscriber that stopped reading is let go (R42). */
  dropConnection: () => void;
}

/** R69: how many ids one `nodes` call may name. */
export const MAX_NODE_IDS = 100;

export const builder = new SchemaBuilder<{
  Context: Context;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    SafeInt: { Input: number; Output: number };
    File: { Input: File; Output: never };
  };
  Connection: { totalCount: number };
  DefaultFieldNullability: false;
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
}>({
  plugins: [RelayPlugin, DataloaderPlugin],
  defaultFieldNullability: false,
  relay: {
    nodeTypeOptions: { description: 'An object with an opaque global id, which `node` and `nodes` fetch.' },
    idFieldOptions: { description: 'Opaque global id; clients never decode it.' },
    pageInfoTypeOptions: { description: 'Where a page stands in its list (Relay cursor connections).' },
    hasNextPageFieldOptions: { description: 'Whether more items follow this page (after endCursor).' },
    hasPreviousPageFieldOptions: { description: 'Whether items come before this page (before startCursor).' },
    startCursorFieldOptions: { description: "The first item's cursor; null for an empty page." },
    endCursorFieldOptions: { description: "The last item's cursor; null for an empty page." },
    cursorFieldOptions: { description: 'Opaque position of this item, for `after` or `before`; tied to the order it was read in.' },
    pageInfoFieldOptions: { description: 'Paging information.' },
    firstArgOptions: { description: 'Up to this many items from the start (or after `after`); at most 100, default 20.' },
    lastArgOptions: { description: 'Up to this many items from the end (or before `before`); at most 100.' },
    afterArgOptions: { description: 'Cursor of the item to read after.' },
    beforeArgOptions: { description: 'Cursor of the item to read before.' },
    // A malformed id, or one of a type that is not a node, reads as an id that does not exist:
    // null from `node`, never an error (R6, R43).
    decodeGlobalID: (globalID) => {
      try {
        return decodeGlobalID(globalID);
      } catch {
        return { typename: '', id: '' };
      }
    },
    nodeQueryOptions: {
      description: 'The object with this global id, or null when none of your account has it.',
      args: { id: { description: 'A global id.' } },
      nullable: true,
      resolve: (_root, { id }, _context, info, resolveNode) => (isNodeType(info.schema, id.typename) ? resolveNode(id) : null),
    },
    nodesQueryOptions: {
      description: `The objects with these global ids, in order; null for each id that names none of your account. At most ${MAX_NODE_IDS} ids.`,
      args: { ids: { description: `Global ids (at most ${MAX_NODE_IDS}).` } },
      nullable: { list: false, items: true },
      resolve: (_root, args, _context, info, resolveNodes) => {
        // R69: refused whole, before any id is looked up.
        if (args.ids.length > MAX_NODE_IDS) throw new InputError(`\`nodes\` takes at most ${MAX_NODE_IDS} ids; ${args.ids.length} were given`);
        // Pothos's resolveNodes reads `args.ids` (it ignores its own argument) and answers null
        // for null entries, so ids that cannot name a node are blanked in place.
        const ids = args.ids as ({ typename: string; id: string } | null)[];
        ids.forEach((id, index) => {
          if (id && !isNodeType(info.schema, id.typename)) ids[index] = null;
        });
        return resolveNodes(args.ids);
      },
    },
    edgesFieldOptions: { nullable: false, description: 'The items of this page with their cursors.' },
    nodeFieldOptions: { nullable: false, description: 'The item.' },
    nodesOnConnection: { description: 'The items of this page, without cursors.' },
  },
});

function isNodeType(schema: GraphQLSchema, typename: string): boolean {
  const type = schema.getType(typename);
  return isObjectType(type) && type.getInterfaces().some((implemented) => implemented.name === 'Node');
}

builder.addScalarType('DateTime', DateTimeISOResolver, {
  description: 'ISO-8601 date-time string in UTC, e.g. 2026-11-21T09:30:00.000Z.',
});
builder.addScalarType('SafeInt', SafeIntResolver, {
  description: 'Integer in the JavaScript safe range (sizes in bytes exceed GraphQL Int).',
});
/** What yoga's multipart parser hands over for a file part (a web `File`). */
const isUploadedFile = (value: unknown): value is File =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as File).name === 'string' &&
  typeof (value as File).size === 'number' &&
  typeof (value as File).stream === 'function';

const notAFile = () =>
  new GraphQLError('File expects a file part of a multipart request (the GraphQL multipart request specification), not a value', {
    extensions: { code: 'BAD_USER_INPUT' },
  });

builder.scalarType('File', {
  description: 'A file sent with the GraphQL multipart request specification.',
  serialize: () => {
    throw new Error('File is an input-only scalar');
  },
  // R73: a string, number or object where a file belongs is the caller's mistake.
  parseValue: (value) => {
    if (!isUploadedFile(value)) throw notAFile();
    return value;
  },
  parseLiteral: () => {
    throw notAFile();
  },
});

builder.queryType({ description: 'Reads: everything of the caller\'s account, for any role.' });
builder.mutationType({ description: 'Changes; each answers a payload whose userErrors say why it changed nothing.' });

builder.globalConnectionField('totalCount', (t) =>
  t.int({ description: 'How many items the whole list holds, across every page (filters applied).', resolve: (connection) => connection.totalCount }),
);
