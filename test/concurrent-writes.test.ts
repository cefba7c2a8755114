import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../src/domain/principal.js';
import type { NewJob } from '../src/domain/publish/jobs.js';
import { noUserErrors, startServer, testSql, type TestServer } from './kit.js';

// Check-then-write pairs started in the same tick, as two instances (or one instance's pool of
// PostgreSQL connections) run them. On SQLite transactions take turns; on PostgreSQL (read
// committed) they run side by side, and the account's row lock (src/db/locks.ts) orders them.

let t: TestServer;
let admin: Principal;
let appId: number;

const idOf = (globalId: string) => Number(Buffer.from(globalId, 'base64').toString().split(':')[1]);

async function environment(name: string): Promise<number> {
  const created = await t.admin.request(`mutation ($input: CreateEnvironmentInput!) { createEnvironment(input: $input) { environment { id } userErrors { message } } }`, {
    input: { name },
  });
  return idOf(noUserErrors(created.createEnvironment).environment.id);
}

const newJob = (environmentId: number): NewJob => ({
  appId,
  environmentId,
  kind: 'NATIVE_CLIENT',
  action: 'PUBLISH',
  sync: false,
  request: { note: 'made by the store alone; no runner is told of it' },
  warnings: [],
  stages: [{ key: 'VALIDATE', title: 'Validate' }],
});

beforeAll(async () => {
  t = await startServer();
  const [row] = await testSql<{ accountId: number; userId: number }>(t.dataDir, `select account_id as "accountId", id as "userId" from users where role = 'ADMIN'`);
  if (!row) throw new Error('no ADMIN');
  admin = { ...row, role: 'ADMIN', tokenId: 0 };
  appId = idOf(noUserErrors((await t.admin.request('mutation { createApp(input: { name: "Concurrent" }) { app { id } userErrors { message } } }')).createApp).app.id);
});
afterAll(() => t.stop());

describe('writes that check first, started at once', () => {
  it('gives jobs created at once on different environments of one account distinct tracking numbers', async () => {
    const environments: number[] = [];
    for (let i = 0; i < 8; i++) environments.push(await environment(`tracking-${i}`));
    const jobs = await Promise.all(environments.map((environmentId) => t.server.domain.jobs.create(admin, newJob(environmentId))));
    const numbers = jobs.map((job) => job?.trackingNumber);
    expect(numbers.every((n) => typeof n === 'number')).toBe(true);
    expect(new Set(numbers).size).toBe(environments.length);
  });

  it('lets one of the jobs created at once on one environment in; the others are refused, none fails (R10)', async () => {
    const environmentId = await environment('one-active');
    const jobs = await Promise.all(Array.from({ length: 6 }, () => t.server.domain.jobs.create(admin, newJob(environmentId))));
    expect(jobs.filter((job) => job !== null)).toHaveLength(1);
  });

  it('keeps one active ADMIN when two ADMINs demote each other at once', async () => {
    const { accounts } = t.server.domain;
    const created = await accounts.createAccount({ name: 'Two admins', email: 'first@two.example' });
    if (!created.ok) throw new Error(created.userErrors[0]?.message);
    const [first] = await testSql<{ id: number; accountId: number }>(t.dataDir, `select id, account_id as "accountId" from users where email = ?`, ['first@two.example']);
    if (!first) throw new Error('no first admin');
    const asFirst: Principal = { accountId: first.accountId, userId: first.id, role: 'ADMIN', tokenId: 0 };
    const second = await accounts.createUser(asFirst, { email: 'second@two.example', name: 'Second', role: 'ADMIN' });
    if (!second.ok) throw new Error(second.userErrors[0]?.message);
    const asSecond: Principal = { accountId: first.accountId, userId: second.value.id, role: 'ADMIN', tokenId: 0 };
    for (let round = 0; round < 5; round++) {
      const outcomes = await Promise.all([
        accounts.updateUser(asFirst, { userId: asSecond.userId, role: 'MEMBER' }),
        accounts.updateUser(asSecond, { userId: asFirst.userId, role: 'MEMBER' }),
      ]);
      expect(outcomes.map((outcome) => (outcome.ok ? 'ok' : outcome.userErrors.map((e) => e.code).join()))).toContain('LAST_ADMIN');
      const admins = await testSql(t.dataDir, `select id from users where account_id = ? and role = 'ADMIN' and deactivated_at is null`, [first.accountId]);
      expect(admins).toHaveLength(1);
      // Both ADMINs again for the next round.
      const demoted = outcomes[0].ok ? asSecond : asFirst;
      const remaining = demoted === asFirst ? asSecond : asFirst;
      const restored = await accounts.updateUser(remaining, { userId: demoted.userId, role: 'ADMIN' });
      expect(restored.ok).toBe(true);
    }
  });
});
