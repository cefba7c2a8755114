import type { Page } from '../domain/pagination.js';

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
