import { ConfigError, loadConfig } from './config.js';
import { DatabaseOpenError } from './db/client.js';
import { createLogger } from './logger.js';
import { createServer } from './server.js';

let config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`shipyard: ${error.message}`);
    process.exit(1);
  }
  throw error;
}

const logger = createLogger(config.logLevel);
let server;
try {
  server = await createServer(config, { logger });
} catch (error) {
  // R72: one line naming the file and the problem, not a stack.
  if (error instanceof DatabaseOpenError) {
    console.error(`shipyard: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
if (server.createdAdminToken) {
  console.log(`admin token (shown once; also in ${config.dataDir}/admin-token): ${server.createdAdminToken}`);
}
const url = await server.start();
console.log(`listening on ${url}`);
console.log(`GraphiQL: ${url}/graphql`);

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  server.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
