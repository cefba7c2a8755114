import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noUserErrors, type TestServer } from './kit.js';
import { World } from './world.js';

let w: World;
let t: TestServer;
let environmentId: string;
let otherEnvironmentId: string;

const USERS = `query ($id: ID!, $first: Int, $after: String, $last: Int, $before: String, $startsWith: String, $search: String, $source: DirectorySource) {
  node(id: $id) { ... on Environment {
    directoryUsers(first: $first, after: $after, last: $last, before: $before, startsWith: $startsWith, search: $search, source: $source) {
      totalCount
      nodes { username displayName source groups { name } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  } }
}`;

const people: [string, string, string][] = [
  ['aaron', 'Aaron Abbott', 'LOCAL'],
  ['abby', 'abby Adams', 'ACTIVE_DIRECTORY'],
  ['ben', 'Ben Baker', 'SAP'],
  ['bella', 'Bella Brooks', 'CLOUD'],
  ['carl', 'Carl Cole', 'LOCAL'],
  ['cindy', 'Cindy Crane', 'ACTIVE_DIRECTORY'],
  ['dan', 'Dan Drake', 'LOCAL'],
];

beforeAll(async () => {
  w = await World.start();
  t = w.t;
  environmentId = await w.admin.environment({ name: 'directory', managementEnabled: true });
  otherEnvironmentId = await w.admin.environment({ name: 'elsewhere' });
  for (const [username, displayName, source] of people) await w.admin.directoryUser(environmentId, { username, displayName, source, email: `${username}@corp.example` });
});
afterAll(() => w.stop());

const users = async (variables: Record<string, unknown>) => (await t.admin.request(USERS, { id: environmentId, ...variables })).node.directoryUsers;

describe('directory users: filters', () => {
  it('lists users by display name, case-insensitively', async () => {
    const page = await users({});
    expect(page.totalCount).toBe(7);
    expect(page.nodes.map((u: { username: string }) => u.username)).toEqual(['aaron', 'abby', 'bella', 'ben', 'carl', 'cindy', 'dan']);
  });

  it('filters by first letter, the A, B, C buttons', async () => {
    expect((await users({ startsWith: 'a' })).nodes.map((u: { username: string }) => u.username)).toEqual(['aaron', 'abby']);
    expect((await users({ startsWith: 'B' })).totalCount).toBe(2);
    expect((await users({ startsWith: 'Ci' })).nodes.map((u: { username: string }) => u.username)).toEqual(['cindy']);
    expect((await users({ startsWith: 'z' })).totalCount).toBe(0);
  });

  it('searches username, display name and email', async () => {
    expect((await users({ search: 'RAKE' })).nodes.map((u: { username: string }) => u.username)).toEqual(['dan']);
    expect((await users({ search: 'bell' })).nodes.map((u: { username: string }) => u.username)).toEqual(['bella']);
    expect((await users({ search: '@corp' })).totalCount).toBe(7);
  });

  it('treats LIKE wildcards in a filter as plain characters', async () => {
    expect((await users({ search: '%' })).totalCount).toBe(0);
    expect((await users({ startsWith: '_' })).totalCount).toBe(0);
  });

  it('filters by source and combines filters', async () => {
    expect((await users({ source: 'LOCAL' })).nodes.map((u: { username: string }) => u.username)).toEqual(['aaron', 'carl', 'dan']);
    expect((await users({ source: 'LOCAL', startsWith: 'c' })).nodes.map((u: { username: string }) => u.username)).toEqual(['carl']);
  });
});

describe('directory users: pagination', () => {
  it('pages forward to the end and back to the start with the same cursors', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    let page;
    do {
      page = await users({ first: 3, after });
      seen.push(...page.nodes.map((u: { username: string }) => u.username));
      after = page.pageInfo.endCursor;
    } while (page.pageInfo.hasNextPage);
    expect(seen).toEqual(['aaron', 'abby', 'bella', 'ben', 'carl', 'cindy', 'dan']);

    const back: string[] = [];
    let before: string | null = null;
    do {
      page = await users({ last: 3, before });
      back.unshift(...page.nodes.map((u: { username: string }) => u.username));
      before = page.pageInfo.startCursor;
    } while (page.pageInfo.hasPreviousPage);
    expect(back).toEqual(seen);
  });

  it('keeps filters while paging', async () => {
    const first = await users({ source: 'LOCAL', first: 2 });
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = await users({ source: 'LOCAL', first: 2, after: first.pageInfo.endCursor });
    expect(second.nodes.map((u: { username: string }) => u.username)).toEqual(['dan']);
    expect(second.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
  });

  it('refuses pages over 100, negative sizes and foreign cursors with a clear error', async () => {
    for (const [variables, message] of [
      [{ first: 101 }, /first.*between 0 and 100/],
      [{ last: -1 }, /last.*between 0 and 100/],
      [{ after: 'not-a-cursor' }, /after.*not a cursor/],
      [{ first: 1, last: 1 }, /first.*or.*last/],
    ] as const) {
      const response = await t.admin.raw(USERS, { id: environmentId, ...variables });
      expect(response.status).toBe(200);
      expect(response.errors?.[0]).toMatchObject({ message: expect.stringMatching(message), extensions: { code: 'BAD_USER_INPUT' } });
    }
  });
});

describe('directory groups', () => {
  it('creates a group with members and shows membership both ways', async () => {
    const page = await users({ startsWith: 'b' });
    const ids = (await t.admin.request(USERS.replace('nodes { username', 'nodes { id username'), { id: environmentId, startsWith: 'b' })).node.directoryUsers.nodes.map(
      (u: { id: string }) => u.id,
    );
    expect(page.totalCount).toBe(2);
    const created = noUserErrors(
      (
        await t.admin.request(
          `mutation ($input: CreateDirectoryGroupInput!) { createDirectoryGroup(input: $input) { group { name source members { username } } userErrors { code } } }`,
          { input: { environmentId, name: 'Builders', source: 'LOCAL', memberIds: [...ids, ids[0]] } },
        )
      ).createDirectoryGroup,
    );
    expect(created.group).toEqual({ name: 'Builders', source: 'LOCAL', members: [{ username: 'bella' }, { username: 'ben' }] });
    expect((await users({ startsWith: 'ben' })).nodes[0].groups).toEqual([{ name: 'Builders' }]);
  });

  it('adds a new user straight into groups', async () => {
    const groups = await t.admin.request(`query ($id: ID!) { node(id: $id) { ... on Environment { directoryGroups(search: "build") { nodes { id } } } } }`, {
      id: environmentId,
    });
    const groupId = groups.node.directoryGroups.nodes[0].id;
    const created = await t.admin.request(
      `mutation ($input: CreateDirectoryUserInput!) { createDirectoryUser(input: $input) { user { username groups { name } } userErrors { code } } }`,
      { input: { environmentId, username: 'bo', displayName: 'Bo Brick', source: 'SAP', groupIds: [groupId] } },
    );
    expect(created.createDirectoryUser).toEqual({ user: { username: 'bo', groups: [{ name: 'Builders' }] }, userErrors: [] });
  });

  it('refuses members or groups of another environment, changing nothing', async () => {
    const elsewhere = await w.admin.directoryUser(otherEnvironmentId, { username: 'far', displayName: 'Far Away' });
    const before = (await users({})).totalCount;
    const payload = await t.admin.request(
      `mutation ($input: CreateDirectoryGroupInput!) { createDirectoryGroup(input: $input) { group { id } userErrors { code field } } }`,
      { input: { environmentId, name: 'Mixed', source: 'LOCAL', memberIds: [elsewhere] } },
    );
    expect(payload.createDirectoryGroup).toEqual({ group: null, userErrors: [{ code: 'NOT_FOUND', field: ['input', 'memberIds'] }] });
    const groups = await t.admin.request(`query ($id: ID!) { node(id: $id) { ... on Environment { directoryGroups(search: "Mixed") { totalCount } } } }`, {
      id: environmentId,
    });
    expect(groups.node.directoryGroups.totalCount).toBe(0);
    expect((await users({})).totalCount).toBe(before);
  });

  it('keeps usernames and group names unique per environment, ignoring case', async () => {
    const duplicate = await t.admin.request(
      `mutation ($input: CreateDirectoryUserInput!) { createDirectoryUser(input: $input) { userErrors { code field } } }`,
      { input: { environmentId, username: 'AARON', displayName: 'Another Aaron', source: 'LOCAL' } },
    );
    expect(duplicate.createDirectoryUser.userErrors).toEqual([{ code: 'NAME_TAKEN', field: ['input', 'username'] }]);
    const sameNameElsewhere = await t.admin.request(
      `mutation ($input: CreateDirectoryUserInput!) { createDirectoryUser(input: $input) { userErrors { code } } }`,
      { input: { environmentId: otherEnvironmentId, username: 'aaron', displayName: 'Aaron Elsewhere', source: 'LOCAL' } },
    );
    expect(sameNameElsewhere.createDirectoryUser.userErrors).toEqual([]);
  });
});
