// A worker thread does not inherit a loader that vitest's transform provides, so it loads its
// TypeScript through tsx's scoped import; under `tsx` or `node --import tsx` the same path works.
import { tsImport } from 'tsx/esm/api';

await tsImport('./inspect-worker.ts', import.meta.url);
