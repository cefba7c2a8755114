import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainEvent } from '../src/domain/events.js';
import { noUserErrors, startServer, type Client, type TestServer } from './kit.js';
import { binary, PUBLISH_NATIVE, publishWorld, waitForJob } from './publish-kit.js';

let t: TestServer;

beforeAll(async () => {
  t = await startServer();
});
afterAll(() => t.stop());

const codes = (payload: { userErrors: { code: string }[] }) => payload.userErrors.map((e) => e.code);
const WHO = '{ viewer { user { id role } } }';
let people = 0;

/** A user of the default account with a token, made by the admin. */
async function person(role: string, name?: string): Promise<{ id: string; client: Client }> {
  people += 1;
  const created = await t.admin.request(
    `mutation ($input: CreateUserInput!) { createUser(input: $input) { user { id } userErrors { code message } } }`,
    { input: { email: `person${people}@example.com`, name: name ?? `Person ${people}`, role } },
  );
  const id = noUserErrors(created.createUser).user.id as string;
  const token = await t.admin.request(`mutation ($id: ID!) { createApiToken(input: { name: "t", userId: $id }) { token } }`, { id });
  return { id, client: t.client(token.createApiToken.token) };
}

const UPDATE_USER = `mutation ($input: UpdateUserInput!) {
  updateUser(input: $input) { user { id role deactivated updatedAt } userErrors { code message field } }
}`;

describe('users of the account (admin API)', () => {
  it('lists users as a connection, paging forward and back in a stable order', async () => {
    for (const name of ['Zed', 'amy', 'Bob', 'carl', 'Dora']) await person('VIEWER', `${name} Pager`);
    const query = `query ($first: Int, $after: String, $last: Int, $before: String, $orderBy: UserOrder) {
      viewer { account { users(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy) {
        totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } nodes { name email }
      } } }
    }`;
    const all = (await t.admin.request(query, { first: 100 })).viewer.account.users;
    const names = all.nodes.map((user: { name: string }) => user.name);
    expect(names).toEqual([...names].sort((x: string, y: string) => x.toLowerCase().localeCompare(y.toLowerCase())));
    expect(all.totalCount).toBe(all.nodes.length);

    const forward: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: { nodes: { name: string }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } = (await t.admin.request(query, { first: 2, after })).viewer.account.users;
      forward.push(...page.nodes.map((user) => user.name));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(forward).toEqual(names);

    const backward: string[] = [];
    let before: string | null = null;
    for (;;) {
      const page: { nodes: { name: string }[]; pageInfo: { hasPreviousPage: boolean; startCursor: string } } = (await t.admin.request(query, { last: 2, before })).viewer.account.users;
      backward.unshift(...page.nodes.map((user) => user.name));
      if (!page.pageInfo.hasPreviousPage) break;
      before = page.pageInfo.startCursor;
    }
    expect(backward).toEqual(names);

    const byEmailDesc = (await t.admin.request(query, { first: 100, orderBy: { field: 'EMAIL', direction: 'DESC' } })).viewer.account.users;
    const emails = byEmailDesc.nodes.map((user: { email: string }) => user.email);
    expect(emails).toEqual([...emails].sort().reverse());
  });

  it('refuses a cursor of one order in another', async () => {
    const query = `query ($after: String, $orderBy: UserOrder) { viewer { account { users(first: 1, after: $after, orderBy: $orderBy) { pageInfo { endCursor } } } } }`;
    const cursor = (await t.admin.request(query, { orderBy: { field: 'EMAIL', direction: 'ASC' } })).viewer.account.users.pageInfo.endCursor;
    const mixed = await t.admin.raw(query, { after: cursor, orderBy: { field: 'NAME', direction: 'ASC' } });
    expect(mixed.errors?.[0]?.message).toMatch(/not a cursor of this list in this order/);
    const same = await t.admin.raw(query, { after: cursor, orderBy: { field: 'EMAIL', direction: 'ASC' } });
    expect(same.errors).toBeUndefined();
  });

  it('changes a role, which takes effect with the next request', async () => {
    const { id, client } = await person('MEMBER');
    const create = `mutation ($name: String!) { createApp(input: { name: $name }) { app { id } userErrors { code } } }`;
    expect(codes((await client.request(create, { name: 'BeforePromotion' })).createApp)).toEqual(['FORBIDDEN']);
    const before = (await t.admin.request(`query ($id: ID!) { node(id: $id) { ... on User { createdAt updatedAt } } }`, { id })).node;
    expect(before.updatedAt).toBe(before.createdAt);
    // Let the clock pass the creation millisecond, so the change shows in updatedAt.
    while (Date.now() <= Date.parse(before.createdAt) + 1) await new Promise((resolve) => setTimeout(resolve, 1));
    const promoted = noUserErrors((await t.admin.request(UPDATE_USER, { input: { userId: id, role: 'ADMIN' } })).updateUser);
    expect(promoted.user).toMatchObject({ id, role: 'ADMIN', deactivated: false });
    expect(Date.parse(promoted.user.updatedAt)).toBeGreaterThan(Date.parse(before.createdAt));
    expect((await client.request(WHO)).viewer.user.role).toBe('ADMIN');
    expect(codes((await client.request(create, { name: 'AfterPromotion' })).createApp)).toEqual([]);

    noUserErrors((await t.admin.request(UPDATE_USER, { input: { userId: id, role: 'VIEWER' } })).updateUser);
    const upload = `mutation { createBinaryUpload(input: { appId: "x", platform: IOS_PHONE, fileName: "a.ipa", sizeBytes: 10 }) { userErrors { code } } }`;
    expect(codes((await client.request(upload)).createBinaryUpload)).toEqual(['FORBIDDEN']);
  });

  it("stops a deactivated user's tokens at once, while another user's token keeps working", async () => {
    const target = await person('MEMBER');
    const other = await person('MEMBER');
    const second = await t.admin.request(`mutation ($id: ID!) { createApiToken(input: { name: "second", userId: $id }) { token apiToken { id } } }`, { id: target.id });
    const secondClient = t.client(second.createApiToken.token);
    expect((await target.client.raw(WHO)).status).toBe(200);
    const events: DomainEvent[] = [];
    const unsubscribe = t.server.domain.events.subscribe((event) => events.push(event));
    try {
      const answer = noUserErrors((await t.admin.request(UPDATE_USER, { input: { userId: target.id, deactivated: true } })).updateUser);
      expect(answer.user.deactivated).toBe(true);
      // The very next request of either token is refused; the other user's is not.
      expect((await target.client.raw(WHO)).status).toBe(401);
      expect((await secondClient.raw(WHO)).status).toBe(401);
      expect((await other.client.raw(WHO)).status).toBe(200);
      // Open streams end on this event: one per deactivation, naming both of the user's tokens.
      const deactivated = events.flatMap((event) => (event.type === 'userDeactivated' ? [event] : []));
      expect(deactivated).toHaveLength(1);
      expect(deactivated[0]?.tokenIds).toHaveLength(2);
    } finally {
      unsubscribe();
    }
    const listed = (await t.admin.request(`query ($id: ID!) { node(id: $id) { ... on User { deactivated } } }`, { id: target.id })).node;
    expect(listed.deactivated).toBe(true);

    noUserErrors((await t.admin.request(UPDATE_USER, { input: { userId: target.id, deactivated: false } })).updateUser);
    expect((await target.client.raw(WHO)).status).toBe(200);
  });

  it('keeps the last active ADMIN: neither demoted nor deactivated, while a second ADMIN can be', async () => {
    const own = (await t.admin.request(WHO)).viewer.user.id;
    const others = (await t.admin.request(`{ viewer { account { users(first: 100) { nodes { id role deactivated } } } } }`)).viewer.account.users.nodes;
    // Demote every other ADMIN so the caller is the last one.
    for (const user of others) if (user.id !== own && user.role === 'ADMIN') await t.admin.request(UPDATE_USER, { input: { userId: user.id, role: 'MEMBER' } });

    const demote = (await t.admin.request(UPDATE_USER, { input: { userId: own, role: 'MEMBER' } })).updateUser;
    expect(demote.userErrors).toEqual([expect.objectContaining({ code: 'LAST_ADMIN', field: ['input', 'role'] })]);
    const deactivate = (await t.admin.request(UPDATE_USER, { input: { userId: own, deactivated: true } })).updateUser;
    expect(deactivate.userErrors).toEqual([expect.objectContaining({ code: 'LAST_ADMIN', field: ['input', 'deactivated'] })]);
    expect((await t.admin.request(WHO)).viewer.user.role).toBe('ADMIN');

    // A deactivated ADMIN is no ADMIN at all: the caller is still the last active one.
    const sleeper = await person('ADMIN');
    noUserErrors((await t.admin.request(UPDATE_USER, { input: { userId: sleeper.id, deactivated: true } })).updateUser);
    expect(codes((await t.admin.request(UPDATE_USER, { input: { userId: own, role: 'VIEWER' } })).updateUser)).toEqual(['LAST_ADMIN']);

    // Positive control: with a second active ADMIN, that one can be demoted and then the caller cannot.
    const deputy = await person('ADMIN');
    expect(codes((await t.admin.request(UPDATE_USER, { input: { userId: deputy.id, role: 'MEMBER' } })).updateUser)).toEqual([]);
    expect(codes((await deputy.client.request(UPDATE_USER, { input: { userId: own, role: 'MEMBER' } })).updateUser)).toEqual(['FORBIDDEN']);
    noUserErrors((await t.admin.request(UPDATE_USER, { input: { userId: deputy.id, role: 'ADMIN' } })).updateUser);
    // Now the deputy may demote the first admin, which leaves the deputy as the last one.
    noUserErrors((await deputy.client.request(UPDATE_USER, { input: { userId: own, role: 'MEMBER' } })).updateUser);
    expect(codes((await deputy.client.request(UPDATE_USER, { input: { userId: deputy.id, role: 'MEMBER' } })).updateUser)).toEqual(['LAST_ADMIN']);
    noUserErrors((await deputy.client.request(UPDATE_USER, { input: { userId: own, role: 'ADMIN' } })).updateUser);
  });

  it('answers NOT_FOUND for an unknown user and changes nothing', async () => {
    const bad = (await t.admin.request(UPDATE_USER, { input: { userId: 'VXNlcjo5OTk5OQ', role: 'VIEWER' } })).updateUser;
    expect(codes(bad)).toEqual(['NOT_FOUND']);
  });
});

describe('deleteApp', () => {
  const DELETE_APP = `mutation ($id: ID!) { deleteApp(input: { id: $id }) { deletedId userErrors { code message field } } }`;

  it('refuses while the app is published natively, naming the environment, and deletes it once unpublished', async () => {
    const w = await publishWorld(t.admin);
    const ios = await binary(t.admin, w.appId, 'IOS_PHONE', '1.0');
    const published = await t.admin.request(PUBLISH_NATIVE, {
      input: { appId: w.appId, environmentId: w.environmentId, option: 'PREVIEW', workflowState: 'DRAFT', binaryIds: [ios], sync: true },
    });
    expect(published.publishNativeClient.job.state).toBe('SUCCEEDED');
    const { node: env } = await t.admin.request(`query ($id: ID!) { node(id: $id) { ... on Environment { name } } }`, { id: w.environmentId });

    const refused = (await t.admin.request(DELETE_APP, { id: w.appId })).deleteApp;
    expect(refused.deletedId).toBeNull();
    expect(refused.userErrors).toEqual([expect.objectContaining({ code: 'APP_PUBLISHED', field: ['input', 'id'] })]);
    expect(refused.userErrors[0].message).toContain(env.name);
    expect((await t.admin.request(`query ($id: ID!) { node(id: $id) { id } }`, { id: w.appId })).node).toEqual({ id: w.appId });

    const unpublish = await t.admin.request(
      `mutation ($input: UnpublishAppInput!) { unpublishApp(input: $input) { job { id state } userErrors { code } } }`,
      { input: { appId: w.appId, environmentId: w.environmentId, kind: 'NATIVE_CLIENT', sync: true } },
    );
    expect(unpublish.unpublishApp.job.state).toBe('SUCCEEDED');
    const { sha256 } = (await t.admin.request(`query ($id: ID!) { node(id: $id) { ... on ClientBinary { sha256 } } }`, { id: ios })).node;
    expect(existsSync(join(t.dataDir, 'blobs', sha256.slice(0, 2), sha256))).toBe(true);

    const deleted = (await t.admin.request(DELETE_APP, { id: w.appId })).deleteApp;
    expect(deleted).toEqual({ deletedId: w.appId, userErrors: [] });
    expect((await t.admin.request(`query ($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: [w.appId, ios] })).nodes).toEqual([null, null]);
    expect(existsSync(join(t.dataDir, 'blobs', sha256.slice(0, 2), sha256))).toBe(false);
  });

  it('refuses while services are published, and while a publish of the app runs', async () => {
    const slow = await startServer({ publishStageDelayMs: 150 });
    try {
      const w = await publishWorld(slow.admin);
      const job = await slow.admin.request(
        `mutation ($input: PublishServicesAndWebInput!) { publishServicesAndWeb(input: $input) { job { id } userErrors { code } } }`,
        { input: { appId: w.appId, environmentId: w.environmentId } },
      );
      const running = (await slow.admin.request(DELETE_APP, { id: w.appId })).deleteApp;
      expect(codes(running)).toEqual(['APP_PUBLISHED']);
      expect((await waitForJob(slow.admin, job.publishServicesAndWeb.job.id)).state).toBe('SUCCEEDED');
      const published = (await slow.admin.request(DELETE_APP, { id: w.appId })).deleteApp;
      expect(codes(published)).toEqual(['APP_PUBLISHED']);
      // Positive control in the same account: an app published nowhere goes.
      const spare = await slow.admin.request(`mutation { createApp(input: { name: "Spare" }) { app { id } } }`);
      expect((await slow.admin.request(DELETE_APP, { id: spare.createApp.app.id })).deleteApp.userErrors).toEqual([]);
    } finally {
      await slow.stop();
    }
  });
});

describe('deleteApp and shared identity services (R37)', () => {
  it("refuses while identity services the app last published still serve another app, and never takes them from it", async () => {
    const make = async (name: string) =>
      (await t.admin.request(`mutation ($name: String!) { createApp(input: { name: $name, identityServices: [{ name: "SharedLogin", providerType: "UserStore" }] }) { app { id } } }`, { name }))
        .createApp.app.id as string;
    const [first, second] = [await make('IdpFirst'), await make('IdpSecond')];
    const env = (await t.admin.request('mutation { createEnvironment(input: { name: "idp-env" }) { environment { id } } }')).createEnvironment.environment.id;
    const run = async (mutation: string, input: Record<string, unknown>) => {
      const data = await t.admin.request(`mutation ($input: ${mutation === 'unpublishApp' ? 'UnpublishAppInput' : 'PublishServicesAndWebInput'}!) { ${mutation}(input: $input) { job { state } userErrors { code } } }`, { input: { ...input, sync: true } });
      expect(data[mutation].job.state).toBe('SUCCEEDED');
    };
    await run('publishServicesAndWeb', { appId: second, environmentId: env });
    await run('publishServicesAndWeb', { appId: first, environmentId: env });
    await run('unpublishApp', { appId: first, environmentId: env, kind: 'SERVICES_AND_WEB' });
    const services = async () =>
      (await t.admin.request(`query ($id: ID!) { node(id: $id) { ... on Environment { identityServices { name publishedBy { id } usedBy { id } } } } }`, { id: env })).node.identityServices;
    expect(await services()).toEqual([{ name: 'SharedLogin', publishedBy: { id: first }, usedBy: [{ id: second }] }]);

    const refused = (await t.admin.request(`mutation ($id: ID!) { deleteApp(input: { id: $id }) { userErrors { code message } } }`, { id: first })).deleteApp;
    expect(codes(refused)).toEqual(['APP_PUBLISHED']);
    expect(refused.userErrors[0].message).toContain('idp-env');
    expect(await services()).toHaveLength(1);

    // Once the other app's publish has written them, the first app can go and they stay.
    await run('publishServicesAndWeb', { appId: second, environmentId: env });
    expect(codes((await t.admin.request(`mutation ($id: ID!) { deleteApp(input: { id: $id }) { userErrors { code } } }`, { id: first })).deleteApp)).toEqual([]);
    expect(await services()).toEqual([{ name: 'SharedLogin', publishedBy: { id: second }, usedBy: [{ id: second }] }]);
  });
});

describe('directory update and delete', () => {
  const USER_FIELDS = 'id displayName email updatedAt groups { name }';

  it('updates and deletes directory users and groups, keeping names unique', async () => {
    const w = await publishWorld(t.admin);
    const updated = (await t.admin.request(
      `mutation ($input: UpdateDirectoryUserInput!) { updateDirectoryUser(input: $input) { user { ${USER_FIELDS} } userErrors { code } } }`,
      { input: { id: w.users.ann, displayName: 'Ann Lee', email: 'ann@example.com', groupIds: [w.groups.Team] } },
    )).updateDirectoryUser;
    expect(updated.user).toMatchObject({ displayName: 'Ann Lee', email: 'ann@example.com', groups: [{ name: 'Team' }] });

    const renamed = (await t.admin.request(
      `mutation ($input: UpdateDirectoryGroupInput!) { updateDirectoryGroup(input: $input) { group { name members { displayName } } userErrors { code } } }`,
      { input: { id: w.groups.Team, name: 'Crew', memberIds: [w.users.ann] } },
    )).updateDirectoryGroup;
    expect(renamed.group).toEqual({ name: 'Crew', members: [{ displayName: 'Ann Lee' }] });
    const clash = (await t.admin.request(
      `mutation ($input: UpdateDirectoryGroupInput!) { updateDirectoryGroup(input: $input) { group { name } userErrors { code } } }`,
      { input: { id: w.groups.Mixed, name: 'crew' } },
    )).updateDirectoryGroup;
    expect(codes(clash)).toEqual(['NAME_TAKEN']);

    const viewer = await t.as('VIEWER');
    const del = (kind: string, id: string, client: Client) =>
      client.request(`mutation ($id: ID!) { delete${kind}(input: { id: $id }) { deletedId userErrors { code } } }`, { id });
    expect(codes((await del('DirectoryUser', w.users.ann, viewer)).deleteDirectoryUser)).toEqual(['FORBIDDEN']);
    expect((await del('DirectoryUser', w.users.ann, t.admin)).deleteDirectoryUser).toEqual({ deletedId: w.users.ann, userErrors: [] });
    expect((await del('DirectoryGroup', w.groups.Mixed, t.admin)).deleteDirectoryGroup).toEqual({ deletedId: w.groups.Mixed, userErrors: [] });
    const left = (await t.admin.request(
      `query ($env: ID!) { node(id: $env) { ... on Environment { directoryUsers { nodes { username } } directoryGroups { nodes { name members { username } } } } } }`,
      { env: w.environmentId },
    )).node;
    expect(left.directoryUsers.nodes.map((user: { username: string }) => user.username)).toEqual(['bea', 'cal', 'dee']);
    expect(left.directoryGroups.nodes).toEqual([{ name: 'Cloudy', members: [{ username: 'dee' }] }, { name: 'Crew', members: [] }]);
  });
});

describe('directory deletion and ACTIVE apps (R32)', () => {
  it("refuses to delete the only target of an ACTIVE app, naming it, and deletes once it has another", async () => {
    const w = await publishWorld(t.admin);
    const ios = await binary(t.admin, w.appId, 'IOS_PHONE', '1.0');
    const publish = (targets: Record<string, string[]>, binaryIds: string[] = []) =>
      t.admin.request(PUBLISH_NATIVE, {
        input: { appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', workflowState: 'ACTIVE', binaryIds, removePlatforms: binaryIds.length ? [] : ['WINDOWS'], targets, sync: true },
      });
    expect((await publish({ userIds: [w.users.ann] }, [ios])).publishNativeClient.job.state).toBe('SUCCEEDED');
    const del = (kind: string, id: string) =>
      t.admin.request(`mutation ($id: ID!) { delete${kind}(input: { id: $id }) { deletedId userErrors { code message } } }`, { id });

    const refused = (await del('DirectoryUser', w.users.ann)).deleteDirectoryUser;
    expect(codes(refused)).toEqual(['TARGETS_REQUIRED']);
    expect(refused.userErrors[0].message).toContain(w.appName);
    // Positive control: a user no app targets goes at once.
    expect(codes((await del('DirectoryUser', w.users.cal)).deleteDirectoryUser)).toEqual([]);

    expect((await publish({ userIds: [w.users.ann], groupIds: [w.groups.Team] })).publishNativeClient.job.state).toBe('SUCCEEDED');
    expect(codes((await del('DirectoryUser', w.users.ann)).deleteDirectoryUser)).toEqual([]);
    expect(codes((await del('DirectoryGroup', w.groups.Team)).deleteDirectoryGroup)).toEqual(['TARGETS_REQUIRED']);
  });
});

describe('orderBy and since on the main connections', () => {
  it('orders apps by each field both ways and pages in that order', async () => {
    const made: string[] = [];
    for (const name of ['Ordb', 'Orda', 'Ordd', 'Ordc']) {
      made.push((await t.admin.request(`mutation ($name: String!) { createApp(input: { name: $name }) { app { id } } }`, { name })).createApp.app.id);
    }
    // Touch the first one last, so UPDATED_AT differs from CREATED_AT.
    await t.admin.request(`mutation ($id: ID!) { updateApp(input: { id: $id, description: "touched" }) { userErrors { code } } }`, { id: made[0] });
    const query = `query ($orderBy: AppOrder, $first: Int, $after: String) { apps(search: "Ord", orderBy: $orderBy, first: $first, after: $after) {
      nodes { name } pageInfo { hasNextPage endCursor } } }`;
    const read = async (field: string, direction: string) => {
      const names: string[] = [];
      let after: string | null = null;
      for (;;) {
        const page: { nodes: { name: string }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } = (await t.admin.request(query, { orderBy: { field, direction }, first: 3, after })).apps;
        names.push(...page.nodes.map((app) => app.name));
        if (!page.pageInfo.hasNextPage) return names;
        after = page.pageInfo.endCursor;
      }
    };
    const back = `query ($orderBy: AppOrder, $last: Int, $before: String) { apps(search: "Ord", orderBy: $orderBy, last: $last, before: $before) {
      nodes { name } pageInfo { hasPreviousPage startCursor } } }`;
    const readBack = async (field: string, direction: string) => {
      const names: string[] = [];
      let before: string | null = null;
      for (;;) {
        const page: { nodes: { name: string }[]; pageInfo: { hasPreviousPage: boolean; startCursor: string } } = (await t.admin.request(back, { orderBy: { field, direction }, last: 3, before })).apps;
        names.unshift(...page.nodes.map((app) => app.name));
        if (!page.pageInfo.hasPreviousPage) return names;
        before = page.pageInfo.startCursor;
      }
    };
    for (const field of ['NAME', 'CREATED_AT', 'UPDATED_AT']) {
      for (const direction of ['ASC', 'DESC']) expect(await readBack(field, direction), `${field} ${direction}`).toEqual(await read(field, direction));
    }
    expect(await read('NAME', 'ASC')).toEqual(['Orda', 'Ordb', 'Ordc', 'Ordd']);
    expect(await read('NAME', 'DESC')).toEqual(['Ordd', 'Ordc', 'Ordb', 'Orda']);
    expect(await read('CREATED_AT', 'ASC')).toEqual(['Ordb', 'Orda', 'Ordd', 'Ordc']);
    expect(await read('CREATED_AT', 'DESC')).toEqual(['Ordc', 'Ordd', 'Orda', 'Ordb']);
    expect((await read('UPDATED_AT', 'DESC'))[0]).toBe('Ordb');
    expect((await read('UPDATED_AT', 'ASC')).at(-1)).toBe('Ordb');
  });

  it('orders binaries and jobs, and `since` leaves out what did not change after the moment', async () => {
    const w = await publishWorld(t.admin);
    const first = await binary(t.admin, w.appId, 'ANDROID_PHONE', '1.0');
    const second = await binary(t.admin, w.appId, 'ANDROID_PHONE', '2.0');
    const ios = await binary(t.admin, w.appId, 'IOS_PHONE', '1.0');
    const binaries = async (orderBy: unknown) =>
      (await t.admin.request(`query ($id: ID!, $orderBy: ClientBinaryOrder) { node(id: $id) { ... on App { clientBinaries(orderBy: $orderBy) { nodes { id } } } } }`, { id: w.appId, orderBy }))
        .node.clientBinaries.nodes.map((node: { id: string }) => node.id);
    expect(await binaries(null)).toEqual([second, first, ios]);
    expect(await binaries({ field: 'PLATFORM_VERSION', direction: 'DESC' })).toEqual([ios, first, second]);
    expect(await binaries({ field: 'UPLOADED_AT', direction: 'ASC' })).toEqual([first, second, ios]);
    expect(await binaries({ field: 'UPLOADED_AT', direction: 'DESC' })).toEqual([ios, second, first]);

    const publish = async (binaryIds: string[]) =>
      (await t.admin.request(PUBLISH_NATIVE, { input: { appId: w.appId, environmentId: w.environmentId, option: 'PREVIEW', workflowState: 'DRAFT', binaryIds, sync: true } }))
        .publishNativeClient.job as { id: string; state: string };
    const early = await publish([first]);
    const { node: earlyJob } = await t.admin.request(`query ($id: ID!) { node(id: $id) { ... on PublishJob { updatedAt } } }`, { id: early.id });
    // A moment strictly after every change of the first job, read back from the server's own clock.
    const moment = new Date(new Date(earlyJob.updatedAt).getTime() + 1);
    while (Date.now() <= moment.getTime() + 1) await new Promise((resolve) => setTimeout(resolve, 1));
    const late = await publish([second]);
    const jobs = async (args: Record<string, unknown>) =>
      (await t.admin.request(`query ($app: ID!, $since: DateTime, $orderBy: PublishJobOrder) { publishJobs(appId: $app, since: $since, orderBy: $orderBy) { totalCount nodes { id } } }`, { app: w.appId, ...args }))
        .publishJobs;
    expect((await jobs({})).nodes.map((job: { id: string }) => job.id)).toEqual([late.id, early.id]);
    expect((await jobs({ orderBy: { field: 'CREATED_AT', direction: 'ASC' } })).nodes.map((job: { id: string }) => job.id)).toEqual([early.id, late.id]);
    expect((await jobs({ orderBy: { field: 'FINISHED_AT', direction: 'DESC' } })).nodes.map((job: { id: string }) => job.id)).toEqual([late.id, early.id]);
    const since = await jobs({ since: moment.toISOString() });
    expect(since).toEqual({ totalCount: 1, nodes: [{ id: late.id }] });
    // Positive control: a moment before both keeps both.
    expect((await jobs({ since: new Date(0).toISOString() })).totalCount).toBe(2);
  });
});
