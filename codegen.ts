import type { CodegenConfig } from '@graphql-codegen/cli';

/** Typed documents for the browser code in src/web, from the committed schema (R67). */
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['src/web/**/*.ts', '!src/web/gql/**'],
  ignoreNoDocuments: true,
  generates: {
    'src/web/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        // Plain strings, not syntax trees: the browser sends them as they are, with no graphql-js.
        documentMode: 'string',
        scalars: { DateTime: 'string', SafeInt: 'number', File: 'File' },
        strictScalars: true,
        enumsAsTypes: true,
        useTypeImports: true,
        // ESM imports with their .js extension, as TypeScript's NodeNext resolution wants.
        emitLegacyCommonJSImports: false,
      },
    },
  },
};

export default config;
