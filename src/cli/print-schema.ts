import { writeFileSync } from 'node:fs';
import { printedSchema } from '../schema/print.js';

// Writes the public schema to schema.graphql at the root, where it is committed.
writeFileSync(new URL('../../schema.graphql', import.meta.url), printedSchema());
console.log('wrote schema.graphql');
