import { and, asc, eq, gt, inArray, isNull, ne, or, sql } from 'drizzle-orm';
import { lockForUpdate, oneRow, type Db } from '../db/client.js';
import { accounts, apiTokens, users } from '../db/schema.js';
import { DomainEvents } from './events.js';
import { chooseOrder, keysetPage, tableSource, type KeysetOrder, type OrderBy, type Page, type PageArgs } from './pagination.js';
import { can, denial } from './policy.js';
import type { Principal, Role } from './principal.js';
import { fail, notFound, ok, userError, type Result } from './result.js';
import { newTokenSecret, sha256Hex } from './tokens.js';
import { asciiLower, checkEmail, checkName } from './validation.js';
import { inIdOrder } from './rows.js';

export type Account = typeof accounts.$inferSelect;
export type User = typeof users.$inferSelect;
export type ApiToken = Omit<typeof apiTokens.$inferSelect, 'tokenSha256'>;

export interface NewAccount {
  account: Account;
  admin: User;
  /** The admin's first API token secret, shown once. */
  token: string;
}

/** `lastUsedAt` is written at most this often per token, so reads do not each cause a write. */
const LAST_USED_RESOLUTION_MS = 60_000;

const tokenColumns = {
  id: apiTokens.id,
  accountId: apiTokens.accountId,
  userId: apiTokens.userId,
  name: apiTokens.name,
  createdAt: apiTokens.createdAt,
  lastUsedAt: apiTokens.lastUsedAt,
  expiresAt: apiTokens.expiresAt,
};

export type UserOrderField = 'NAME' | 'EMAIL' | 'CREATED_AT';

const userOrders: Record<UserOrderField, Omit<KeysetOrder<User>, 'name' | 'direction'>> = {
  NAME: { sortKey: sql`lower(${users.name})`, id: users.id, sortValue: (user) => asciiLower(user.name), idValue: (user) => user.id },
  EMAIL: { sortKey: sql`lower(${users.email})`, id: users.id, sortValue: (user) => asciiLower(user.email), idValue: (user) => user.id },
  CREATED_AT: { sortKey: users.createdAt, id: users.id, sortValue: (user) => user.createdAt.getTime(), idValue: (user) => user.id },
};

const defaultUserOrder: KeysetOrder<User> = { ...userOrders.NAME, direction: 'asc' };

export interface UpdateUserInput {
  userId: number | null;
  role?: Role | null;
  deactivated?: boolean | null;
}

/** Told the id of each token revoked, so that its open streams can be ended (R70). */
export type RevocationListener = (tokenId: number) => void;

export class AccountService {
  private readonly revocationListeners = new Set<RevocationListener>();

  constructor(
    private readonly db: Db,
    private readonly events = new DomainEvents(),
  ) {}

  /** Calls `listener` with each token revoked from now on; answers how to stop. */
  onTokenRevoked(listener: RevocationListener): () => void {
    this.revocationListeners.add(listener);
    return () => this.revocationListeners.delete(listener);
  }

  /**
   * Creates an account with its first ADMIN and that admin's token. `secret` lets the operator
   * choose the token (ADMIN_TOKEN); otherwise one is generated.
   */
  async createAccount(input: { name: string; email: string; adminName?: string; secret?: string }): Promise<Result<NewAccount>> {
    const problems = [checkName(input.name, ['name']), checkEmail(input.email, ['email'])].filter((p) => p !== null);
    if (problems.length > 0) return fail(...problems);
    // Only the operator creates accounts (npm run create-account), so this may look across them.
    const secret = input.secret ?? newTokenSecret();
    // Checked and written in one transaction, so two creates cannot both find the email free.
    return this.db.transaction(async (tx): Promise<Result<NewAccount>> => {
      const [taken] = await tx.select({ id: users.id }).from(users).where(sql`lower(${users.email}) = lower(${input.email})`).limit(1);
      if (taken) return fail(userError('NAME_TAKEN', 'A user with that email already exists', ['email']));
      const account = oneRow(await tx.insert(accounts).values({ name: input.name }).returning());
      const admin = oneRow(await tx
        .insert(users)
        .values({ accountId: account.id, email: input.email, name: input.adminName ?? 'Administrator', role: 'ADMIN' })
        .returning());
      await tx.insert(apiTokens)
        .values({ accountId: account.id, userId: admin.id, name: 'admin', tokenSha256: sha256Hex(secret) });
      return ok({ account, admin, token: secret });
    });
  }

  /** The account created first: the one `npm start` bootstraps and serves GraphiQL for. */
  async defaultAccount(): Promise<Account | undefined> {
    return (await this.db.select().from(accounts).orderBy(asc(accounts.id)).limit(1))[0];
  }

  /** Resolves a bearer token secret to its principal; null for an unknown, revoked or expired token. */
  async authenticate(secret: string, now = new Date()): Promise<Principal | null> {
    const row = (await this.db
      .select({
        tokenId: apiTokens.id,
        lastUsedAt: apiTokens.lastUsedAt,
        expiresAt: apiTokens.expiresAt,
        userId: users.id,
        accountId: users.accountId,
        role: users.role,
      })
      .from(apiTokens)
      .innerJoin(users, eq(users.id, apiTokens.userId))
      // A deactivated user's tokens stop at once: this runs on every request.
      .where(and(eq(apiTokens.tokenSha256, sha256Hex(secret)), isNull(users.deactivatedAt)))
      .limit(1))[0];
    if (!row || (row.expiresAt && row.expiresAt.getTime() <= now.getTime())) return null;
    if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      try {
        await this.db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, row.tokenId));
      } catch {
        // A database that takes no writes (R72) still serves reads; the time is a courtesy.
      }
    }
    return { tokenId: row.tokenId, userId: row.userId, accountId: row.accountId, role: row.role };
  }

  /** Whether this secret is a live token: used to pre-fill GraphiQL only with a working token. */
  async isLiveToken(secret: string, now = new Date()): Promise<boolean> {
    return (
      (await this.db
        .select({ id: apiTokens.id })
        .from(apiTokens)
        .innerJoin(users, eq(users.id, apiTokens.userId))
        .where(and(eq(apiTokens.tokenSha256, sha256Hex(secret)), isNull(users.deactivatedAt), or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, now))))
        .limit(1))[0] !== undefined
    );
  }

  /** Which of these token ids still exist, have not expired and belong to an active user (R70). */
  async liveTokenIds(ids: readonly number[], now = new Date()): Promise<Set<number>> {
    const live = new Set<number>();
    // In slices, to stay far below SQLite's limit on bound parameters.
    for (let start = 0; start < ids.length; start += 500) {
      const rows = await this.db
        .select({ id: apiTokens.id })
        .from(apiTokens)
        .innerJoin(users, eq(users.id, apiTokens.userId))
        .where(and(inArray(apiTokens.id, ids.slice(start, start + 500)), isNull(users.deactivatedAt), or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, now))));
      for (const row of rows) live.add(row.id);
    }
    return live;
  }

  async accountsByIds(principal: Principal, ids: readonly number[]): Promise<(Account | null)[]> {
    // A caller only ever sees its own account.
    const own = (await this.db.select().from(accounts).where(eq(accounts.id, principal.accountId)).limit(1))[0];
    return inIdOrder(ids, own ? [own] : []);
  }

  async usersByIds(principal: Principal, ids: readonly number[]): Promise<(User | null)[]> {
    const rows = await this.db
      .select()
      .from(users)
      .where(and(eq(users.accountId, principal.accountId), inArray(users.id, [...ids])));
    return inIdOrder(ids, rows);
  }

  /** The account's users, deactivated ones included. */
  async listUsers(principal: Principal, args: PageArgs & { orderBy?: OrderBy<UserOrderField> | null }): Promise<Page<User>> {
    return keysetPage(
      tableSource(this.db, users),
      args.orderBy ? chooseOrder(userOrders, args.orderBy) : defaultUserOrder,
      eq(users.accountId, principal.accountId),
      args,
    );
  }

  async createUser(principal: Principal, input: { email: string; name: string; role: Role }): Promise<Result<User>> {
    const forbidden = denial(principal, 'manageUsers');
    if (forbidden) return fail(forbidden);
    const problems = [checkName(input.name, ['input', 'name']), checkEmail(input.email, ['input', 'email'])].filter(
      (p) => p !== null,
    );
    if (problems.length > 0) return fail(...problems);
    // Unique within the account only: another account's users must not be detectable (R6).
    // Checked and written in one transaction, so two creates cannot both find the email free.
    return this.db.transaction(async (tx): Promise<Result<User>> => {
      const [taken] = await tx
        .select({ id: users.id })
        .from(users)
        .where(and(eq(users.accountId, principal.accountId), sql`lower(${users.email}) = lower(${input.email})`))
        .limit(1);
      if (taken) return fail(userError('NAME_TAKEN', 'A user with that email already exists in this account', ['input', 'email']));
      return ok(oneRow(await tx.insert(users).values({ ...input, accountId: principal.accountId }).returning()));
    });
  }

  /**
   * Changes a user's role or (de)activates them. A deactivated user's tokens stop at once, and
   * `userDeactivated` tells open streams to end. The account always keeps one active ADMIN.
   */
  async updateUser(principal: Principal, input: UpdateUserInput): Promise<Result<User>> {
    const forbidden = denial(principal, 'manageUsers');
    if (forbidden) return fail(forbidden);
    const [user] = input.userId === null ? [null] : await this.usersByIds(principal, [input.userId]);
    if (!user) return fail(notFound('user', ['input', 'userId']));
    // Counted and written in one transaction holding the account's row (on SQLite transactions
    // take turns anyway), so two admins demoting each other at once cannot both succeed.
    const outcome = await this.db.transaction(async (tx): Promise<Result<{ user: User; tokenIds: number[] | null }>> => {
      await lockForUpdate(tx, accounts.id, user.accountId);
      const current = (await tx.select().from(users).where(eq(users.id, user.id)).limit(1))[0] ?? user;
      const role = input.role ?? current.role;
      const deactivating = input.deactivated === true && current.deactivatedAt === null;
      const deactivatedAt = input.deactivated == null ? current.deactivatedAt : input.deactivated ? (current.deactivatedAt ?? new Date()) : null;
      const losesAdmin = current.role === 'ADMIN' && current.deactivatedAt === null && (role !== 'ADMIN' || deactivatedAt !== null);
      if (losesAdmin) {
        const otherAdmin = (await tx
          .select({ id: users.id })
          .from(users)
          .where(and(eq(users.accountId, user.accountId), eq(users.role, 'ADMIN'), isNull(users.deactivatedAt), ne(users.id, user.id)))
          .limit(1))[0];
        if (!otherAdmin)
          return fail(
            userError(
              'LAST_ADMIN',
              `${user.email} is the last active ADMIN of the account; make another user ADMIN first`,
              ['input', input.deactivated ? 'deactivated' : 'role'],
            ),
          );
      }
      if (role === current.role && deactivatedAt === current.deactivatedAt) return ok({ user: current, tokenIds: null });
      const updated = oneRow(await tx.update(users).set({ role, deactivatedAt }).where(eq(users.id, user.id)).returning());
      const tokenIds = deactivating
        ? (await tx.select({ id: apiTokens.id }).from(apiTokens).where(eq(apiTokens.userId, user.id))).map((token) => token.id)
        : null;
      return ok({ user: updated, tokenIds });
    });
    if (!outcome.ok) return outcome;
    const { user: updated, tokenIds } = outcome.value;
    if (tokenIds && updated.deactivatedAt) {
      this.events.publish({ type: 'userDeactivated', accountId: updated.accountId, userId: updated.id, tokenIds, at: updated.deactivatedAt });
      // Their open streams end as a revoked token's do (R70).
      for (const tokenId of tokenIds) for (const listener of this.revocationListeners) listener(tokenId);
    }
    return ok(updated);
  }

  async tokensOf(principal: Principal): Promise<ApiToken[]> {
    return await this.db
      .select(tokenColumns)
      .from(apiTokens)
      .where(and(eq(apiTokens.accountId, principal.accountId), eq(apiTokens.userId, principal.userId)))
      .orderBy(asc(apiTokens.id));
  }

  async tokensByIds(principal: Principal, ids: readonly number[]): Promise<(ApiToken | null)[]> {
    const rows = await this.db
      .select(tokenColumns)
      .from(apiTokens)
      .where(and(eq(apiTokens.accountId, principal.accountId), inArray(apiTokens.id, [...ids])));
    const visible = rows.filter((row) => can(principal, 'readTokens', { userId: row.userId }));
    return inIdOrder(ids, visible);
  }

  /**
   * Anyone may hold tokens for themselves (a token never grants more than its user's role);
   * creating one for another user of the account is for ADMINs.
   */
  async createApiToken(
    principal: Principal,
    input: { name: string; userId: number | null; expiresAt?: Date | null },
    now = new Date(),
  ): Promise<Result<{ apiToken: ApiToken; token: string }>> {
    const nameProblem = checkName(input.name, ['input', 'name']);
    if (nameProblem) return fail(nameProblem);
    if (input.expiresAt && input.expiresAt.getTime() <= now.getTime())
      return fail(userError('INVALID_INPUT', 'expiresAt must be in the future', ['input', 'expiresAt']));
    const userId = input.userId ?? principal.userId;
    if (userId !== principal.userId) {
      const [owner] = await this.usersByIds(principal, [userId]);
      if (!owner) return fail(notFound('user', ['input', 'userId']));
    }
    const forbidden = denial(principal, 'manageTokens', { userId });
    if (forbidden) return fail({ ...forbidden, field: ['input', 'userId'] });
    const token = newTokenSecret();
    const apiToken = oneRow(await this.db
      .insert(apiTokens)
      .values({ accountId: principal.accountId, userId, name: input.name, tokenSha256: sha256Hex(token), expiresAt: input.expiresAt ?? null })
      .returning(tokenColumns));
    return ok({ apiToken, token });
  }

  async revokeApiToken(principal: Principal, tokenId: number | null): Promise<Result<number>> {
    const token =
      tokenId === null
        ? undefined
        : (await this.db
            .select(tokenColumns)
            .from(apiTokens)
            .where(and(eq(apiTokens.accountId, principal.accountId), eq(apiTokens.id, tokenId)))
            .limit(1))[0];
    if (!token) return fail(notFound('API token', ['input', 'id']));
    const forbidden = denial(principal, 'manageTokens', { userId: token.userId });
    if (forbidden) return fail({ ...forbidden, field: ['input', 'id'] });
    await this.db.delete(apiTokens).where(eq(apiTokens.id, token.id));
    for (const listener of this.revocationListeners) listener(token.id);
    return ok(token.id);
  }
}
