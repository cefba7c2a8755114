import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { createRuntimeServer } from '../runtime/server/app.js';

/** `npm run runtime`: a standalone runtime server (R45). */
const env = z
  .object({
    RUNTIME_PORT: z.string().regex(/^\d{1,5}$/, 'RUNTIME_PORT must be a port number').transform(Number).default('4100'),
    RUNTIME_HOST: z.string().min(1).default('127.0.0.1'),
    RUNTIME_DATA_DIR: z.string().min(1).default('./runtime-data'),
    RUNTIME_TOKEN: z.string().regex(/^[\x21-\x7e]{16,512}$/, 'RUNTIME_TOKEN must be 16-512 printable ASCII characters without spaces').optional(),
    RUNTIME_PUBLIC_URL: z.string().url().optional(),
    RUNTIME_MANAGEMENT: z.enum(['true', 'false']).default('true'),
    RUNTIME_TEST_HOLD: z.string().optional(),
  })
  .safeParse(Object.fromEntries(Object.entries(process.env).filter(([key, value]) => key.startsWith('RUNTIME_') && value)));
if (!env.success) {
  console.error(`runtime: ${env.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
  process.exit(1);
}
const config = env.data;

mkdirSync(config.RUNTIME_DATA_DIR, { recursive: true });
const tokenFile = join(config.RUNTIME_DATA_DIR, 'runtime-token');
let token = config.RUNTIME_TOKEN ?? (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : null);
if (!token) {
  token = randomBytes(24).toString('base64url');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  chmodSync(tokenFile, 0o600);
  console.log(`runtime token (shown once; also in ${tokenFile}): ${token}`);
}

const server = createRuntimeServer({
  dataDir: config.RUNTIME_DATA_DIR,
  token,
  host: config.RUNTIME_HOST,
  port: config.RUNTIME_PORT,
  managementAvailable: config.RUNTIME_MANAGEMENT === 'true',
  publicUrl: config.RUNTIME_PUBLIC_URL?.replace(/\/+$/, '') ?? null,
  hold: config.RUNTIME_TEST_HOLD ?? null,
  onHold: (what) => console.log(`runtime holding ${what}`),
});
const url = await server.start();
console.log(`runtime listening on ${url}`);

const stop = () => void server.stop().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
