import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../src/domain/principal.js';
import { type Client, databaseReading } from './kit.js';
import { isObjectType } from 'graphql';
import { baselineInput, createEveryNode, mutationFields, schema, sendMutation, setPath, type EveryNode } from './schema-walk.js';
import { World } from './world.js';

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
  updateUser: 'ADMIN',
  deleteApp: 'ADMIN',
  updateDirectoryUser: 'ADMIN',
  updateDirectoryGroup: 'ADMIN',
  deleteDirectoryUser: 'ADMIN',
  deleteDirectoryGroup: 'ADMIN',
  createStoreInvitation: 'ADMIN',
  revokeStoreInvitation: 'ADMIN',
  rotateAppSecret: 'MEMBER',
};

/**
 * What each `viewerCan…` field promises, as the matrix calls it grants: the field is true exactly
 * for the roles the matrix lets make every one of those calls. A field missing here fails the test.
 */
const viewerCanGrants: Record<string, string[]> = {
  'Account.viewerCanManageUsers': ['createUser', 'updateUser'],
  'Account.viewerCanManageApps': ['createApp', 'updateApp', 'deleteApp'],
  'Account.viewerCanManageEnvironments': ['createEnvironment', 'updateEnvironment', 'deleteEnvironment'],
  'User.viewerCanUpdate': ['updateUser'],
  'ApiToken.viewerCanRevoke': ['revokeApiToken'],
  'App.viewerCanUpdate': ['updateApp'],
  'App.viewerCanDelete': ['deleteApp'],
  'App.viewerCanManageBinaries': ['uploadClientBinary', 'createBinaryUpload', 'addClientBinary', 'updateClientBinary', 'deleteClientBinary'],
  'Environment.viewerCanUpdate': ['updateEnvironment'],
  'Environment.viewerCanDelete': ['deleteEnvironment'],
  'Environment.viewerCanCheck': ['checkEnvironment'],
  'Environment.viewerCanManageDirectory': ['createDirectoryUser', 'createDirectoryGroup', 'updateDirectoryUser', 'updateDirectoryGroup', 'deleteDirectoryUser', 'deleteDirectoryGroup'],
  'Environment.viewerCanPublishPreview': ['publishNativeClient'],
  'Environment.viewerCanPublishToAppStore': ['publishNativeClient option=APP_STORE'],
  'Environment.viewerCanPublishServicesAndWeb': ['publishServicesAndWeb', 'unpublishApp kind=SERVICES_AND_WEB'],
  'Environment.viewerCanUnpublishNative': ['unpublishApp'],
  'ClientBinary.viewerCanUpdate': ['updateClientBinary'],
  'ClientBinary.viewerCanDelete': ['deleteClientBinary'],
  'ManagementApp.viewerCanRemoveVersions': ['removeManagementVersion'],
  'PublishJob.viewerCanCancel': ['cancelPublishJob'],
  'DirectoryUser.viewerCanUpdate': ['updateDirectoryUser'],
  'DirectoryUser.viewerCanDelete': ['deleteDirectoryUser'],
  'DirectoryGroup.viewerCanUpdate': ['updateDirectoryGroup'],
  'DirectoryGroup.viewerCanDelete': ['deleteDirectoryGroup'],
};

const variants: Record<string, [string[], unknown][]> = {
  publishNativeClient: [[['option'], 'APP_STORE']],
  unpublishApp: [[['kind'], 'SERVICES_AND_WEB']],
};

const rank: Record<Role, number> = { VIEWER: 0, MEMBER: 1, ADMIN: 2 };
/** Run last: these change what the calls after them need. */
const destructive = [
  'revokeApiToken',
  'deleteEnvironment',
  'deleteClientBinary',
  'unpublishApp',
  'removeManagementVersion',
  'deleteApp',
  'deleteDirectoryUser',
  'deleteDirectoryGroup',
];


let w: World;
let world: EveryNode;
let clients: Record<Role, Client>;

beforeAll(async () => {
  w = await World.start();
  world = await createEveryNode(w.admin.client);
  clients = { VIEWER: (await w.as('VIEWER')).client, MEMBER: (await w.as('MEMBER')).client, ADMIN: (await w.as('ADMIN')).client };
});
afterAll(() => w.stop());

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

  it("answers every viewerCan… field as the matrix grants that role, on the world's objects", async () => {
    const inSchema = Object.values(schema.getTypeMap()).flatMap((type) =>
      isObjectType(type) ? Object.keys(type.getFields()).filter((name) => name.startsWith('viewerCan')).map((name) => `${type.name}.${name}`) : [],
    );
    expect(inSchema.sort()).toEqual(Object.keys(viewerCanGrants).sort());
    let checked = 0;
    for (const role of ['VIEWER', 'MEMBER', 'ADMIN'] as const) {
      for (const [path, grants] of Object.entries(viewerCanGrants)) {
        const [type, field] = path.split('.') as [string, string];
        const data = await clients[role].request(`query ($id: ID!) { node(id: $id) { ... on ${type} { ${field} } } }`, { id: world[type] });
        const expected = grants.every((call) => rank[role] >= rank[leastRole[call] ?? 'ADMIN']);
        // Another user's token is hidden from non-ADMINs: what you cannot see, you cannot act on.
        expect(data.node === null ? false : data.node[field], `${path} as ${role}`).toBe(expected);
        checked += 1;
      }
    }
    expect(checked).toBe(3 * Object.keys(viewerCanGrants).length);
  });

  it('answers FORBIDDEN to every role below the least one, changing nothing', async () => {
    const before = await databaseReading(w.t.dataDir);
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
    expect(await databaseReading(w.t.dataDir)).toBe(before);
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
