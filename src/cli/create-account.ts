import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { openDatabase } from '../db/client.js';
import { AccountService } from '../domain/accounts.js';

// npm run create-account -- --name <name> --email <email>
// Adds an account with its first ADMIN; the admin's token is the last line of the output (R6).
async function main(): Promise<number> {
  let options;
  try {
    options = parseArgs({ options: { name: { type: 'string' }, email: { type: 'string' } }, strict: true }).values;
  } catch (error) {
    console.error(`create-account: ${(error as Error).message}`);
    return 2;
  }
  if (!options.name || !options.email) {
    console.error('usage: npm run create-account -- --name <name> --email <email>');
    return 2;
  }
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`create-account: ${error.message}`);
      return 2;
    }
    throw error;
  }
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const database = await openDatabase({ file: join(dataDir, 'shipyard.db'), url: config.databaseUrl });
  try {
    const result = await new AccountService(database.db).createAccount({ name: options.name, email: options.email });
    if (!result.ok) {
      for (const problem of result.userErrors) console.error(`create-account: ${problem.field?.join('.') ?? ''}: ${problem.message}`);
      return 1;
    }
    console.log(`created account ${result.value.account.name} with admin ${result.value.admin.email}`);
    console.log('API token of that admin (shown once):');
    console.log(result.value.token);
    return 0;
  } finally {
    await database.close();
  }
}

process.exitCode = await main();
