import { lexicographicSortSchema, printSchema } from 'graphql';
import { buildSchema } from './index.js';

/** The schema as committed in schema.graphql: sorted, so that diffs show only real changes. */
export const printedSchema = (): string => `${printSchema(lexicographicSortSchema(buildSchema()))}\n`;
