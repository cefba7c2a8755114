import { afterAll } from 'vitest';
import { dropTestDatabases } from './databases.js';

// Runs before each test file, in its process: the PostgreSQL databases the file's servers used
// are dropped when it ends (its own afterAll hooks, which stop the servers, run first).
afterAll(() => dropTestDatabases());
