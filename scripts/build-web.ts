// Bundles the browser code in src/web into dist/web, served by Shipyard (R65, R67). Run by
// `npm install` (prepare) and `npm test`.
import { copyFileSync, mkdirSync } from 'node:fs';
import { build } from 'esbuild';

const outdir = new URL('../dist/web/', import.meta.url);
mkdirSync(outdir, { recursive: true });
await build({
  entryPoints: { 'graphiql-start': 'src/web/graphiql-start.ts', dashboard: 'src/web/dashboard/main.ts' },
  bundle: true,
  format: 'iife',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  outdir: outdir.pathname,
  logLevel: 'warning',
});
copyFileSync(new URL('../src/web/dashboard/dashboard.css', import.meta.url), new URL('dashboard.css', outdir));
