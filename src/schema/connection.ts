import type { EnumRef, SchemaTypes } from '@pothos/core';
import type { OrderDirection, Page } from '../domain/pagination.js';
import { builder } from './builder.js';

/** A domain page as a Relay connection. */
export const toConnection = <T>(page: Page<T>) => ({
  edges: page.nodes.map((node, index) => ({ node, cursor: page.cursors[index] ?? '' })),
  pageInfo: {
    hasNextPage: page.hasNextPage,
    hasPreviousPage: page.hasPreviousPage,
    startCursor: page.cursors[0] ?? null,
    endCursor: page.cursors.at(-1) ?? null,
  },
  totalCount: page.totalCount,
});

/** The schema types of our builder, which refs made by it carry. */
type BuilderTypes = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer Types extends SchemaTypes> ? Types : never;

export const OrderDirectionEnum = builder.enumType('OrderDirection', {
  description: 'Which way a list runs along its order field.',
  values: {
    ASC: { description: 'Smallest first: A to Z, oldest first.' },
    DESC: { description: 'Largest first: Z to A, newest first.' },
  } satisfies Record<OrderDirection, unknown>,
});

/**
 * The `orderBy` input of a connection: a field of its own enum and a direction. Ties are broken
 * by id, so pages are stable; a cursor belongs to the order it was read in.
 */
export function orderByInput<Field extends string>(name: string, fieldEnum: EnumRef<BuilderTypes, Field>, what: string) {
  return builder.inputType(name, {
    description: `How to order ${what}; ties are broken by creation order, so paging is stable.`,
    fields: (t) => ({
      field: t.field({ type: fieldEnum, required: true, description: 'What to order by.' }),
      direction: t.field({ type: OrderDirectionEnum, required: true, description: 'Ascending or descending.' }),
    }),
  });
}
