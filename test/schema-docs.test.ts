import { readFileSync } from 'node:fs';
import {
  buildSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isSpecifiedScalarType,
  type GraphQLSchema,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { userErrorCodes } from '../src/domain/result.js';
import { publishErrorCodes } from '../src/domain/publish/runner.js';
import { printedSchema } from '../src/schema/print.js';

/** Every type, field, argument, input field and enum value that has no description (R66). */
export function undocumented(schema: GraphQLSchema): string[] {
  const missing: string[] = [];
  const lacks = (description: string | null | undefined) => !description?.trim();
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__') || isSpecifiedScalarType(type)) continue;
    if (lacks(type.description)) missing.push(type.name);
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (lacks(field.description)) missing.push(`${type.name}.${field.name}`);
        for (const arg of field.args) if (lacks(arg.description)) missing.push(`${type.name}.${field.name}(${arg.name})`);
      }
    }
    if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) if (lacks(field.description)) missing.push(`${type.name}.${field.name}`);
    }
    if (isEnumType(type)) {
      for (const value of type.getValues()) if (lacks(value.description)) missing.push(`${type.name}.${value.name}`);
    }
  }
  return missing;
}

describe('schema documentation (R66)', () => {
  const committed = buildSchema(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

  it('describes every type, field, argument, input field and enum value of the printed schema', () => {
    expect(undocumented(committed)).toEqual([]);
    // The built schema too, so a change not yet printed cannot hide a gap.
    expect(undocumented(buildSchema(printedSchema()))).toEqual([]);
  });

  it('says when each UserErrorCode and PublishErrorCode occurs', () => {
    for (const [enumName, codes] of [['UserErrorCode', userErrorCodes], ['PublishErrorCode', publishErrorCodes]] as const) {
      const type = committed.getType(enumName);
      if (!isEnumType(type)) throw new Error(`${enumName} is not an enum`);
      expect(type.getValues().map((value) => value.name).sort(), enumName).toEqual(Object.keys(codes).sort());
      for (const value of type.getValues()) expect(value.description, `${enumName}.${value.name}`).toBe(codes[value.name as keyof typeof codes]);
    }
  });

  it('finds an undocumented element (positive control)', () => {
    const bare = buildSchema('"""Root."""\ntype Query { """Documented."""\n a(x: Int): Int\n b: Int }');
    expect(undocumented(bare)).toEqual(['Query.a(x)', 'Query.b']);
  });
});
