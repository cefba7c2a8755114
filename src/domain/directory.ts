import { and, asc, eq, inArray, ne, or, sql, type SQL } from 'drizzle-orm';
import { oneRow, type Db } from '../db/client.js';
import { directoryGroupMembers, directoryGroups, directoryUsers, environments } from '../db/schema.js';
import { denial } from './policy.js';
import { keysetPage, tableSource, type KeysetOrder, type Page, type PageArgs } from './pagination.js';
import type { Principal } from './principal.js';
import { fail, notFound, ok, userError, type Result, type UserError } from './result.js';
import type { DirectorySource } from './vocabulary.js';
import { asciiLower, checkEmail, checkName, likeEscape, MAX_NAME_LENGTH } from './validation.js';
import { inIdOrder, listsByKey } from './rows.js';

export type DirectoryUser = typeof directoryUsers.$inferSelect;
export type DirectoryGroup = typeof directoryGroups.$inferSelect;

export interface DirectoryFilter extends PageArgs {
  /** Case-insensitive prefix of the display name (users) or name (groups). */
  startsWith?: string | null;
  /** Case-insensitive substring of username, display name or email (users) or name (groups). */
  search?: string | null;
  source?: DirectorySource | null;
}

export interface CreateDirectoryUserInput {
  environmentId: number | null;
  username: string;
  displayName: string;
  email?: string | null;
  source: DirectorySource;
  groupIds?: (number | null)[] | null;
}

export interface CreateDirectoryGroupInput {
  environmentId: number | null;
  name: string;
  source: DirectorySource;
  memberIds?: (number | null)[] | null;
}

export interface UpdateDirectoryUserInput {
  id: number | null;
  displayName?: string | null;
  email?: string | null;
  /** Replaces the user's groups when given. */
  groupIds?: (number | null)[] | null;
}

export interface UpdateDirectoryGroupInput {
  id: number | null;
  name?: string | null;
  /** Replaces the group's members when given. */
  memberIds?: (number | null)[] | null;
}

/**
 * Names of the ACTIVE Management apps that target this user or group and no one else; the
 * Management runtime plugs in here, and a deletion that would strand them is refused.
 */
export type StrandedCheck = (principal: Principal, environmentId: number, target: { userId: number } | { groupId: number }) => Promise<string[]>;

const MAX_MEMBERS_PER_REQUEST = 1000;


const userOrder: KeysetOrder<DirectoryUser> = {
  sortKey: sql`lower(${directoryUsers.displayName})`,
  id: directoryUsers.id,
  direction: 'asc',
  sortValue: (user) => asciiLower(user.displayName),
  idValue: (user) => user.id,
};

const groupOrder: KeysetOrder<DirectoryGroup> = {
  sortKey: sql`lower(${directoryGroups.name})`,
  id: directoryGroups.id,
  direction: 'asc',
  sortValue: (group) => asciiLower(group.name),
  idValue: (group) => group.id,
};

// lower() on both sides: case-insensitive for ASCII on both dialects (PostgreSQL's LIKE is not), which is what the A, B, C buttons need.
const prefix = (value: string): string => `${likeEscape(value.slice(0, MAX_NAME_LENGTH))}%`;
const substring = (value: string): string => `%${likeEscape(value.slice(0, MAX_NAME_LENGTH))}%`;

export class DirectoryService {
  private stranded: StrandedCheck = async () => [];

  constructor(private readonly db: Db) {}

  /** The Management runtime tells which ACTIVE apps a deletion would leave without targets. */
  setStrandedCheck(check: StrandedCheck): void {
    this.stranded = check;
  }

  async usersByIds(principal: Principal, ids: readonly number[]): Promise<(DirectoryUser | null)[]> {
    const rows = await this.db
      .select()
      .from(directoryUsers)
      .where(and(eq(directoryUsers.accountId, principal.accountId), inArray(directoryUsers.id, [...ids])));
    return inIdOrder(ids, rows);
  }

  async groupsByIds(principal: Principal, ids: readonly number[]): Promise<(DirectoryGroup | null)[]> {
    const rows = await this.db
      .select()
      .from(directoryGroups)
      .where(and(eq(directoryGroups.accountId, principal.accountId), inArray(directoryGroups.id, [...ids])));
    return inIdOrder(ids, rows);
  }

  async users(environmentId: number, filter: DirectoryFilter): Promise<Page<DirectoryUser>> {
    const conditions: (SQL | undefined)[] = [eq(directoryUsers.environmentId, environmentId)];
    if (filter.startsWith) conditions.push(sql`lower(${directoryUsers.displayName}) like lower(${prefix(filter.startsWith)}) escape '\\'`);
    if (filter.search) {
      const pattern = substring(filter.search);
      conditions.push(
        or(
          sql`lower(${directoryUsers.username}) like lower(${pattern}) escape '\\'`,
          sql`lower(${directoryUsers.displayName}) like lower(${pattern}) escape '\\'`,
          sql`lower(${directoryUsers.email}) like lower(${pattern}) escape '\\'`,
        ),
      );
    }
    if (filter.source) conditions.push(eq(directoryUsers.source, filter.source));
    return keysetPage(
      tableSource(this.db, directoryUsers),
      userOrder,
      and(...conditions),
      filter,
    );
  }

  async groups(environmentId: number, filter: DirectoryFilter): Promise<Page<DirectoryGroup>> {
    const conditions: (SQL | undefined)[] = [eq(directoryGroups.environmentId, environmentId)];
    if (filter.startsWith) conditions.push(sql`lower(${directoryGroups.name}) like lower(${prefix(filter.startsWith)}) escape '\\'`);
    if (filter.search) conditions.push(sql`lower(${directoryGroups.name}) like lower(${substring(filter.search)}) escape '\\'`);
    if (filter.source) conditions.push(eq(directoryGroups.source, filter.source));
    return keysetPage(
      tableSource(this.db, directoryGroups),
      groupOrder,
      and(...conditions),
      filter,
    );
  }

  /** Groups of many users in one statement, one list per user id. */
  async groupsOfUsers(userIds: readonly number[]): Promise<DirectoryGroup[][]> {
    const rows = await this.db
      .select({ userId: directoryGroupMembers.userId, group: directoryGroups })
      .from(directoryGroupMembers)
      .innerJoin(directoryGroups, eq(directoryGroups.id, directoryGroupMembers.groupId))
      .where(inArray(directoryGroupMembers.userId, [...userIds]))
      .orderBy(asc(sql`lower(${directoryGroups.name})`), asc(directoryGroups.id));
    return listsByKey(userIds, rows, (row) => row.userId, (row) => row.group);
  }

  /** Members of many groups in one statement, one list per group id. */
  /** Every user id of an environment's directory. */
  async userIdsOf(environmentId: number): Promise<number[]> {
    return (await this.db.select({ id: directoryUsers.id }).from(directoryUsers).where(eq(directoryUsers.environmentId, environmentId))).map((row) => row.id);
  }

  async membersOfGroups(groupIds: readonly number[]): Promise<DirectoryUser[][]> {
    const rows = await this.db
      .select({ groupId: directoryGroupMembers.groupId, user: directoryUsers })
      .from(directoryGroupMembers)
      .innerJoin(directoryUsers, eq(directoryUsers.id, directoryGroupMembers.userId))
      .where(inArray(directoryGroupMembers.groupId, [...groupIds]))
      .orderBy(asc(sql`lower(${directoryUsers.displayName})`), asc(directoryUsers.id));
    return listsByKey(groupIds, rows, (row) => row.groupId, (row) => row.user);
  }

  async createUser(principal: Principal, input: CreateDirectoryUserInput): Promise<Result<DirectoryUser>> {
    const forbidden = denial(principal, 'manageDirectory');
    if (forbidden) return fail(forbidden);
    const environmentId = await this.environmentOf(principal, input.environmentId);
    if (environmentId === null) return fail(notFound('environment', ['input', 'environmentId']));
    const problems = [
      checkName(input.username, ['input', 'username'], 'Username'),
      checkName(input.displayName, ['input', 'displayName'], 'Display name'),
      input.email == null ? null : checkEmail(input.email, ['input', 'email']),
    ].filter((p) => p !== null);
    const groupIds = await this.resolveInEnvironment(
      (ids) => this.groupsByIds(principal, ids),
      environmentId,
      input.groupIds ?? [],
      ['input', 'groupIds'],
      'group',
      problems,
    );
    if (problems.length > 0) return fail(...problems);
    // Checked inside the transaction that writes: two creates cannot both find the name free.
    const user = await this.db.transaction(async (tx) => {
      const [taken] = await tx
        .select({ id: directoryUsers.id })
        .from(directoryUsers)
        .where(and(eq(directoryUsers.environmentId, environmentId), sql`lower(${directoryUsers.username}) = lower(${input.username})`))
        .limit(1);
      if (taken) return null;
      const created = oneRow(await tx
        .insert(directoryUsers)
        .values({
          accountId: principal.accountId,
          environmentId,
          username: input.username,
          displayName: input.displayName,
          email: input.email ?? null,
          source: input.source,
        })
        .returning());
      if (groupIds.length > 0)
        await tx.insert(directoryGroupMembers).values(groupIds.map((groupId) => ({ groupId, userId: created.id })));
      return created;
    });
    if (!user) return fail(userError('NAME_TAKEN', `A user named ${input.username} already exists there`, ['input', 'username']));
    return ok(user);
  }

  async createGroup(principal: Principal, input: CreateDirectoryGroupInput): Promise<Result<DirectoryGroup>> {
    const forbidden = denial(principal, 'manageDirectory');
    if (forbidden) return fail(forbidden);
    const environmentId = await this.environmentOf(principal, input.environmentId);
    if (environmentId === null) return fail(notFound('environment', ['input', 'environmentId']));
    const problems = [checkName(input.name, ['input', 'name'], 'Group name')].filter((p) => p !== null);
    const memberIds = await this.resolveInEnvironment(
      (ids) => this.usersByIds(principal, ids),
      environmentId,
      input.memberIds ?? [],
      ['input', 'memberIds'],
      'directory user',
      problems,
    );
    if (problems.length > 0) return fail(...problems);
    // Checked inside the transaction that writes: two creates cannot both find the name free.
    const group = await this.db.transaction(async (tx) => {
      const [taken] = await tx
        .select({ id: directoryGroups.id })
        .from(directoryGroups)
        .where(and(eq(directoryGroups.environmentId, environmentId), sql`lower(${directoryGroups.name}) = lower(${input.name})`))
        .limit(1);
      if (taken) return null;
      const created = oneRow(await tx
        .insert(directoryGroups)
        .values({ accountId: principal.accountId, environmentId, name: input.name, source: input.source })
        .returning());
      if (memberIds.length > 0)
        await tx.insert(directoryGroupMembers).values(memberIds.map((userId) => ({ groupId: created.id, userId })));
      return created;
    });
    if (!group) return fail(userError('NAME_TAKEN', `A group named ${input.name} already exists there`, ['input', 'name']));
    return ok(group);
  }

  /** Absent fields keep their values; username and source are the directory's and stay. */
  async updateUser(principal: Principal, input: UpdateDirectoryUserInput): Promise<Result<DirectoryUser>> {
    const forbidden = denial(principal, 'manageDirectory');
    if (forbidden) return fail(forbidden);
    const [user] = input.id === null ? [null] : await this.usersByIds(principal, [input.id]);
    if (!user) return fail(notFound('directory user', ['input', 'id']));
    const problems = [
      input.displayName == null ? null : checkName(input.displayName, ['input', 'displayName'], 'Display name'),
      input.email == null ? null : checkEmail(input.email, ['input', 'email']),
    ].filter((p) => p !== null);
    const groupIds =
      input.groupIds == null
        ? null
        : await this.resolveInEnvironment((ids) => this.groupsByIds(principal, ids), user.environmentId, input.groupIds, ['input', 'groupIds'], 'group', problems);
    if (problems.length > 0) return fail(...problems);
    const updated = await this.db.transaction(async (tx) => {
      const row = oneRow(await tx
        .update(directoryUsers)
        .set({
          displayName: input.displayName ?? user.displayName,
          // An email given as null clears it; an absent one keeps it.
          email: input.email === undefined ? user.email : input.email,
        })
        .where(eq(directoryUsers.id, user.id))
        .returning());
      if (groupIds) {
        await tx.delete(directoryGroupMembers).where(eq(directoryGroupMembers.userId, user.id));
        if (groupIds.length > 0) await tx.insert(directoryGroupMembers).values(groupIds.map((groupId) => ({ groupId, userId: user.id })));
      }
      return row;
    });
    return ok(updated);
  }

  /** Absent fields keep their values; the name stays unique in the environment. */
  async updateGroup(principal: Principal, input: UpdateDirectoryGroupInput): Promise<Result<DirectoryGroup>> {
    const forbidden = denial(principal, 'manageDirectory');
    if (forbidden) return fail(forbidden);
    const [group] = input.id === null ? [null] : await this.groupsByIds(principal, [input.id]);
    if (!group) return fail(notFound('directory group', ['input', 'id']));
    const problems = [input.name == null ? null : checkName(input.name, ['input', 'name'], 'Group name')].filter((p) => p !== null);
    const memberIds =
      input.memberIds == null
        ? null
        : await this.resolveInEnvironment((ids) => this.usersByIds(principal, ids), group.environmentId, input.memberIds, ['input', 'memberIds'], 'directory user', problems);
    if (problems.length > 0) return fail(...problems);
    // Checked inside the transaction that writes: two renames cannot both find the name free.
    const updated = await this.db.transaction(async (tx) => {
      if (input.name != null) {
        const [taken] = await tx
          .select({ id: directoryGroups.id })
          .from(directoryGroups)
          .where(and(eq(directoryGroups.environmentId, group.environmentId), sql`lower(${directoryGroups.name}) = lower(${input.name})`, ne(directoryGroups.id, group.id)))
          .limit(1);
        if (taken) return null;
      }
      const row = oneRow(await tx.update(directoryGroups).set({ name: input.name ?? group.name }).where(eq(directoryGroups.id, group.id)).returning());
      if (memberIds) {
        await tx.delete(directoryGroupMembers).where(eq(directoryGroupMembers.groupId, group.id));
        if (memberIds.length > 0) await tx.insert(directoryGroupMembers).values(memberIds.map((userId) => ({ groupId: group.id, userId })));
      }
      return row;
    });
    if (!updated) return fail(userError('NAME_TAKEN', `A group named ${input.name ?? group.name} already exists there`, ['input', 'name']));
    return ok(updated);
  }

  /** Removes the user with their memberships, Management targets and Enterprise Store notifications. */
  async deleteUser(principal: Principal, id: number | null): Promise<Result<number>> {
    const forbidden = denial(principal, 'manageDirectory');
    if (forbidden) return fail(forbidden);
    const [user] = id === null ? [null] : await this.usersByIds(principal, [id]);
    if (!user) return fail(notFound('directory user', ['input', 'id']));
    const problem = await this.strandedProblem(principal, user.environmentId, { userId: user.id }, user.username);
    if (problem) return fail(problem);
    await this.db.delete(directoryUsers).where(eq(directoryUsers.id, user.id));
    return ok(user.id);
  }

  /** Removes the group and its Management targets; its members stay in the directory. */
  async deleteGroup(principal: Principal, id: number | null): Promise<Result<number>> {
    const forbidden = denial(principal, 'manageDirectory');
    if (forbidden) return fail(forbidden);
    const [group] = id === null ? [null] : await this.groupsByIds(principal, [id]);
    if (!group) return fail(notFound('directory group', ['input', 'id']));
    const problem = await this.strandedProblem(principal, group.environmentId, { groupId: group.id }, group.name);
    if (problem) return fail(problem);
    await this.db.delete(directoryGroups).where(eq(directoryGroups.id, group.id));
    return ok(group.id);
  }

  /** An ACTIVE app needs a target (R32): refuse to delete its only one. */
  private async strandedProblem(principal: Principal, environmentId: number, target: { userId: number } | { groupId: number }, name: string): Promise<UserError | null> {
    const apps = await this.stranded(principal, environmentId, target);
    return apps.length === 0
      ? null
      : userError(
          'TARGETS_REQUIRED',
          `${name} is the only target of the ACTIVE app${apps.length > 1 ? 's' : ''} ${apps.join(', ')}; publish ${apps.length > 1 ? 'them' : 'it'} with other targets or as DRAFT first`,
          ['input', 'id'],
        );
  }

  private async environmentOf(principal: Principal, environmentId: number | null): Promise<number | null> {
    if (environmentId === null) return null;
    const row = (await this.db
      .select({ id: environments.id })
      .from(environments)
      .where(and(eq(environments.accountId, principal.accountId), eq(environments.id, environmentId)))
      .limit(1))[0];
    return row?.id ?? null;
  }

  /** Checks that every id names a user or group of this environment; duplicates collapse. */
  private async resolveInEnvironment(
    load: (ids: number[]) => Promise<({ environmentId: number } | null)[]>,
    environmentId: number,
    ids: (number | null)[],
    field: string[],
    what: string,
    problems: UserError[],
  ): Promise<number[]> {
    if (ids.length > MAX_MEMBERS_PER_REQUEST) {
      problems.push(userError('LIMIT_EXCEEDED', `At most ${MAX_MEMBERS_PER_REQUEST} ids per request`, field));
      return [];
    }
    const unique = [...new Set(ids)];
    const known = unique.filter((id): id is number => id !== null);
    const rows = await load(known);
    const missing = unique.some((id) => id === null) || rows.some((row) => row === null || row.environmentId !== environmentId);
    if (missing) problems.push(userError('NOT_FOUND', `Every ${what} must exist in this environment`, field));
    return known;
  }
}
