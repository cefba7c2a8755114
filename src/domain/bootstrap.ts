import { asc, eq } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { apiTokens, users } from '../db/schema.js';
import type { AccountService } from './accounts.js';
import type { AppService } from './apps.js';
import type { DirectoryService } from './directory.js';
import type { EnvironmentService } from './environments.js';
import type { Principal } from './principal.js';
import type { Result } from './result.js';
import { sha256Hex } from './tokens.js';

export const DEFAULT_ACCOUNT_NAME = 'Default';
export const DEFAULT_ADMIN_EMAIL = 'admin@shipyard.local';

export interface BootstrapOutcome {
  /** Set only when this start created the admin's token: the one time it is shown. */
  createdToken: string | null;
  /** Set when demo data was created: the admin and the app that sample binaries belong to. */
  seeded: { principal: Principal; appId: number } | null;
}

interface Services {
  accounts: AccountService;
  apps: AppService;
  environments: EnvironmentService;
  directory: DirectoryService;
}

const value = <T>(result: Result<T>): T => {
  if (!result.ok) throw new Error(`demo data rejected: ${result.userErrors.map((e) => e.message).join('; ')}`);
  return result.value;
};

/**
 * R1/R2: on an empty database, the default account and its ADMIN, then demo data unless
 * `seed` is 'none'. A later start with a new ADMIN_TOKEN adds it to the default admin.
 */
export async function bootstrap(db: Db, services: Services, options: { adminToken?: string; seed: 'demo' | 'none' }): Promise<BootstrapOutcome> {
  const existing = await services.accounts.defaultAccount();
  if (existing) {
    if (options.adminToken && !await services.accounts.isLiveToken(options.adminToken)) {
      const admin = (await db.select().from(users).where(eq(users.accountId, existing.id)).orderBy(asc(users.id)).limit(1))[0];
      if (admin)
        await db.insert(apiTokens)
          .values({ accountId: existing.id, userId: admin.id, name: 'ADMIN_TOKEN', tokenSha256: sha256Hex(options.adminToken) });
    }
    return { createdToken: null, seeded: null };
  }
  const created = value(
    await services.accounts.createAccount({
      name: DEFAULT_ACCOUNT_NAME,
      email: DEFAULT_ADMIN_EMAIL,
      ...(options.adminToken ? { secret: options.adminToken } : {}),
    }),
  );
  const principal: Principal = { accountId: created.account.id, userId: created.admin.id, role: 'ADMIN', tokenId: 0 };
  const appId = options.seed === 'demo' ? await seedDemoData(principal, services) : null;
  return { createdToken: created.token, seeded: appId === null ? null : { principal, appId } };
}

/** A small but complete account, so that the README's example operations work as written; answers the main app. */
async function seedDemoData(principal: Principal, { apps, environments, directory }: Services): Promise<number> {
  const retailBanking = value(
    await apps.create(principal, {
      name: 'RetailBanking',
      description: 'Mobile and web banking for retail customers',
      identityServices: [
        { name: 'CustomerLogin', providerType: 'UserStore' },
        { name: 'EmployeeSSO', providerType: 'OAuth2' },
      ],
    }),
  );
  value(
    await apps.create(principal, {
      name: 'FieldService',
      description: 'Work orders for field technicians',
      identityServices: [{ name: 'EmployeeSSO', providerType: 'OAuth2' }],
    }),
  );
  const dev = value(await environments.create(principal, { name: 'dev', managementEnabled: true }));
  value(await environments.create(principal, { name: 'staging', allowManualPublishOnly: true }));
  // Port 9 (discard) on loopback: nobody answers, so this environment shows UNKNOWN.
  value(await environments.create(principal, { name: 'prod-eu', url: 'http://127.0.0.1:9/runtime' }));

  const user = async (username: string, displayName: string, source: 'LOCAL' | 'ACTIVE_DIRECTORY' | 'SAP' | 'CLOUD') =>
    value(
      await directory.createUser(principal, {
        environmentId: dev.id,
        username,
        displayName,
        email: `${username}@example.com`,
        source,
      }),
    ).id;
  const alice = await user('alice', 'Alice Andrews', 'LOCAL');
  const bob = await user('bob', 'Bob Brown', 'ACTIVE_DIRECTORY');
  const carol = await user('carol', 'Carol Chen', 'SAP');
  const dave = await user('dave', 'Dave Duncan', 'CLOUD');
  const erin = await user('erin', 'Erin Evans', 'ACTIVE_DIRECTORY');
  value(await directory.createGroup(principal, { environmentId: dev.id, name: 'Sales', source: 'LOCAL', memberIds: [alice, bob] }));
  value(await directory.createGroup(principal, { environmentId: dev.id, name: 'Field Technicians', source: 'ACTIVE_DIRECTORY', memberIds: [bob, carol, erin] }));
  value(await directory.createGroup(principal, { environmentId: dev.id, name: 'Cloud Operators', source: 'CLOUD', memberIds: [dave] }));
  return retailBanking.id;
}
