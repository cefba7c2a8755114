import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { printedSchema } from '../src/schema/print.js';

describe('printed schema', () => {
  it('matches the committed schema.graphql (run `npm run print-schema` after changing the schema)', () => {
    expect(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8')).toBe(printedSchema());
  });
});
