import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../src/domain/principal.js';
import { startServer, type Client, type TestServer, databaseSnapshot } from './kit.js';
import { baselineInput, buildWorld, mutationFields, sendMutation, setPath, type World } from './schema-walk.js';

/**
 * R7 for every mutation: the least role that may call it with the world's objects (which
 * belong to the first ADMIN). Variants change one input field. A mutation missing here fails the
 * test, so a new one cannot slip past the matrix.
 */
const leastRole: Record<string, Role> = {
  createApp: 'ADMIN',
  updateApp: 'ADMIN',
  createEnvironment: 'ADMIN',
  updateEnvironment: 'ADMIN',
  deleteEnvironment: 'ADMIN',
  checkEnvironment: 'MEMBER',
  createDirectoryUser: 'ADMIN',
  createDirectoryGroup: 'ADMIN',
  uploadClientBinary: 'MEMBER',
  createBinaryUpload: 'MEMBER',
  addClientBinary: 'MEMBER',
  updateClientBinary: 'MEMBER',
  deleteClientBinary: 'MEMBER',
  publishNativeClient: 'MEMBER',
  'publishNativeClient option=APP_STORE': 'ADMIN',
  publishServicesAndWeb: 'MEMBER',
  unpublishApp: 'ADMIN',
  'unpublishApp kind=SERVICES_AND_WEB': 'MEMBER',
  removeManagementVersion: 'ADMIN',
  cancelPublishJob: 'ADMIN',
  createApiToken: 'ADMIN',
  revokeApiToken: 'ADMIN',
  createUser: 'ADMIN',
  createStoreInvitation: 'ADMIN',
  revokeStoreInvitation: 'ADMIN',
  rotateAppSecret: 'MEMBER',
};

const variants: Record<string, [string[], unknown][]> = {
  publishNativeClient: [[['option'], 'APP_STORE']],
  unpublishApp: [[['kind'], 'SERVICES_AND_WEB']],
};

const rank: Record<Role, number> = { VIEWER: 0, MEMBER: 1, ADMIN: 2 };
/** Run last: these change what the calls after them need. */
const destructive = ['revokeApiToken', 'deleteEnvironment', 'deleteClientBinary', 'unpublishApp', 'removeManagementVersion'];


let t: TestServer;
let world: World;
let clients: Record<Role, Client>;

beforeAll(async () => {
  t = await startServer();
  world = await buildWorld(t.admin);
  clients = { VIEWER: await t.as('VIEWER'), MEMBER: await t.as('MEMBER'), ADMIN: await t.as('ADMIN') };
});
afterAll(() => t.stop());

const calls = () =>
  mutationFields().flatMap((field) => {
    const inputArg = field.args.find((arg) => arg.name === 'input');
    const base = inputArg ? (baselineInput(field.name, inputArg.type, world) as Record<string, unknown>) : {};
    return [
      { name: field.name, field, input: base },
      ...(variants[field.name] ?? []).map(([path, value]) => ({ name: `${field.name} ${path.join('.')}=${String(value)}`, field, input: setPath(base, path, value) })),
    ];
  });

describe('every mutation × role (R7)', () => {
  it('has an expected role for every mutation in the schema', () => {
    expect(calls().map((call) => call.name).sort()).toEqual(Object.keys(leastRole).sort());
  });

  it('answers FORBIDDEN to every role below the least one, changing nothing', async () => {
    const before = databaseSnapshot(t.dataDir);
    let refused = 0;
    for (const call of calls()) {
      const least = leastRole[call.name] ?? 'ADMIN';
      for (const role of ['VIEWER', 'MEMBER'] as const) {
        if (rank[role] >= rank[least]) continue;
        const response = await sendMutation(clients[role], call.field, call.input);
        expect(response.status, `${call.name} as ${role}`).toBe(200);
        const payload = response.data?.[call.field.name] as { userErrors: { code: string }[] };
        expect(payload.userErrors.map((e) => e.code), `${call.name} as ${role}`).toEqual(['FORBIDDEN']);
        refused += 1;
      }
    }
    expect(refused).toBe(Object.values(leastRole).reduce((sum, least) => sum + rank[least], 0));
    expect(databaseSnapshot(t.dataDir)).toBe(before);
  });

  it('never answers FORBIDDEN to the least role or above', async () => {
    const ordered = calls().sort((x, y) => Number(destructive.includes(x.field.name)) - Number(destructive.includes(y.field.name)));
    let allowed = 0;
    for (const call of ordered) {
      const least = leastRole[call.name] ?? 'ADMIN';
      for (const role of ['VIEWER', 'MEMBER', 'ADMIN'] as const) {
        if (rank[role] < rank[least]) continue;
        const response = await sendMutation(clients[role], call.field, call.input);
        expect(response.status, `${call.name} as ${role}`).toBe(200);
        const payload = response.data?.[call.field.name] as { userErrors: { code: string }[] };
        expect(payload.userErrors.map((e) => e.code), `${call.name} as ${role}`).not.toContain('FORBIDDEN');
        allowed += 1;
      }
    }
    expect(allowed).toBe(Object.values(leastRole).reduce((sum, least) => sum + 3 - rank[least], 0));
  });
});
