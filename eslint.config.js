import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', 'drizzle/', 'dist/', 'src/web/gql/'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    // Command-line entry points talk to the operator on stdout.
    files: ['src/main.ts', 'src/cli/**', 'bench/**', 'test/**'],
    rules: { 'no-console': 'off' },
  },
  {
    // One data layer on two dialects: statements are awaited. better-sqlite3's synchronous
    // .get()/.all()/.run()/.prepare() exist on SQLite only, so only src/db/ may touch them.
    files: ['src/**/*.ts'],
    ignores: ['src/db/**', 'src/runtime/server/**', 'src/cli/**', 'src/web/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[arguments.length=0][callee.type='MemberExpression'][callee.property.name=/^(get|all|run|prepare)$/]",
          message: 'Await the statement instead: the synchronous .get()/.all()/.run()/.prepare() are SQLite-only (src/db/database.ts).',
        },
      ],
    },
  },
);
