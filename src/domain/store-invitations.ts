import { createHash, randomBytes } from 'node:crypto';
import { and, desc, eq, gt, inArray, isNull } from 'drizzle-orm';
import { oneRow, type Db } from '../db/client.js';
import { storeInvitations } from '../db/schema.js';
import { RuntimeRefusedError, RuntimeUnreachableError } from '../runtime/errors.js';
import type { DirectoryService } from './directory.js';
import type { Environment, EnvironmentService } from './environments.js';
import { denial } from './policy.js';
import type { Principal } from './principal.js';
import { fail, notFound, ok, userError, type Result } from './result.js';
import type { Runtimes } from './runtimes.js';
import type { SecretBox } from './secret-box.js';

export type StoreInvitation = Omit<typeof storeInvitations.$inferSelect, 'tokenSha256' | 'tokenEncrypted'>;

/** How long a store link lives unless the ADMIN says otherwise, and at most. */
export const DEFAULT_INVITATION_DAYS = 30;
export const MAX_INVITATION_DAYS = 366;
const DAY_MS = 24 * 60 * 60 * 1000;

const digest = (token: string) => createHash('sha256').update(token).digest('hex');
const unreachable = () =>
  fail(userError('RUNTIME_UNREACHABLE', "The environment's runtime did not answer; nothing was changed", ['input']));

/**
 * R55: personal Enterprise Store links. The token is shown once, when made; Shipyard keeps its
 * SHA-256 (and, encrypted, the token itself, so that R34 notifications can carry the link); the
 * runtime keeps the SHA-256 with the user and their groups, and answers the link itself.
 */
export class StoreInvitationService {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly directory: DirectoryService,
    private readonly environments: EnvironmentService,
    private readonly runtimes: Runtimes,
  ) {}

  async create(principal: Principal, input: { directoryUserId: number | null; expiresAt?: Date | null }, now = Date.now()): Promise<Result<{ invitation: StoreInvitation; token: string; environment: Environment }>> {
    const forbidden = denial(principal, 'manageStoreInvitations');
    if (forbidden) return fail(forbidden);
    const [user] = input.directoryUserId === null ? [null] : await this.directory.usersByIds(principal, [input.directoryUserId]);
    if (!user) return fail(notFound('directory user', ['input', 'directoryUserId']));
    const expiresAt = input.expiresAt ?? new Date(now + DEFAULT_INVITATION_DAYS * DAY_MS);
    if (Number.isNaN(expiresAt.getTime()) || expiresAt.getTime() <= now || expiresAt.getTime() > now + MAX_INVITATION_DAYS * DAY_MS)
      return fail(userError('INVALID_INPUT', `A store link expires in the future, within ${MAX_INVITATION_DAYS} days`, ['input', 'expiresAt']));
    const [environment] = await this.environments.byIds(principal, [user.environmentId]);
    if (!environment) return fail(notFound('directory user', ['input', 'directoryUserId']));
    const token = randomBytes(32).toString('base64url');
    const invitation = oneRow(await this.db
      .insert(storeInvitations)
      .values({ directoryUserId: user.id, tokenSha256: digest(token), tokenEncrypted: this.box.seal(token), expiresAt })
      .returning());
    try {
      await this.tellRuntime(invitation.id, user.id, user.environmentId, digest(token), expiresAt);
    } catch (error) {
      await this.db.delete(storeInvitations).where(eq(storeInvitations.id, invitation.id));
      if (error instanceof RuntimeUnreachableError || error instanceof RuntimeRefusedError) return unreachable();
      throw error;
    }
    return ok({ invitation: visible(invitation), token, environment });
  }

  /** The runtime forgets the link first: a revocation that did not reach it is not reported done. */
  async revoke(principal: Principal, invitationId: number | null, now = Date.now()): Promise<Result<StoreInvitation>> {
    const forbidden = denial(principal, 'manageStoreInvitations');
    if (forbidden) return fail(forbidden);
    const row = invitationId === null ? undefined : (await this.db.select().from(storeInvitations).where(eq(storeInvitations.id, invitationId)).limit(1))[0];
    const [user] = row ? await this.directory.usersByIds(principal, [row.directoryUserId]) : [null];
    const [environment] = user ? await this.environments.byIds(principal, [user.environmentId]) : [null];
    if (!row || !user || !environment) return fail(notFound('store invitation', ['input', 'id']));
    if (row.revokedAt) return ok(visible(row));
    try {
      await this.runtimes.of(environment).run(`store-revoke:${environment.id}:${row.id}:${randomBytes(6).toString("hex")}`, { type: 'revokeStoreAccess', invitationId: row.id });
    } catch (error) {
      if (error instanceof RuntimeUnreachableError || error instanceof RuntimeRefusedError) return unreachable();
      throw error;
    }
    const revoked = oneRow(await this.db.update(storeInvitations).set({ revokedAt: new Date(now) }).where(eq(storeInvitations.id, row.id)).returning());
    return ok(visible(revoked ?? row));
  }

  /** Invitations by id, inside the principal's account only (null elsewhere). */
  async byIds(principal: Principal, ids: readonly number[]): Promise<(StoreInvitation | null)[]> {
    const rows = ids.length === 0 ? [] : (await this.db.select().from(storeInvitations).where(inArray(storeInvitations.id, [...ids])));
    const users = await this.directory.usersByIds(principal, rows.map((row) => row.directoryUserId));
    const visibleRows = rows.filter((_row, index) => users[index] !== null);
    return ids.map((id) => {
      const row = visibleRows.find((candidate) => candidate.id === id);
      return row ? visible(row) : null;
    });
  }

  /** Invitations of many directory users, newest first, without their secrets. */
  async ofUsers(directoryUserIds: readonly number[]): Promise<StoreInvitation[][]> {
    const rows = await this.db
      .select()
      .from(storeInvitations)
      .where(inArray(storeInvitations.directoryUserId, [...directoryUserIds]))
      .orderBy(desc(storeInvitations.id));
    return directoryUserIds.map((id) => rows.filter((row) => row.directoryUserId === id).map(visible));
  }

  /**
   * The live store tokens of these users (newest each), for notifications (R34). The runtime is
   * told each user's groups again, so that a publish leaves it knowing the directory as it is.
   */
  async liveTokens(environmentId: number, directoryUserIds: readonly number[], now = Date.now()): Promise<Map<number, string>> {
    if (directoryUserIds.length === 0) return new Map();
    const rows = await this.db
      .select()
      .from(storeInvitations)
      .where(and(inArray(storeInvitations.directoryUserId, [...directoryUserIds]), isNull(storeInvitations.revokedAt), gt(storeInvitations.expiresAt, new Date(now))))
      .orderBy(desc(storeInvitations.id));
    const tokens = new Map<number, string>();
    for (const row of rows) {
      if (tokens.has(row.directoryUserId)) continue;
      await this.tellRuntime(row.id, row.directoryUserId, environmentId, row.tokenSha256, row.expiresAt);
      tokens.set(row.directoryUserId, this.box.open(row.tokenEncrypted));
    }
    return tokens;
  }

  private async tellRuntime(invitationId: number, directoryUserId: number, environmentId: number, tokenSha256: string, expiresAt: Date): Promise<void> {
    const environment = await this.environments.byIdUnscoped(environmentId);
    if (!environment) throw new Error(`environment ${environmentId} is gone`);
    const [groups] = await this.directory.groupsOfUsers([directoryUserId]);
    const groupIds = (groups ?? []).map((group) => group.id);
    await this.runtimes.of(environment).run(`store-access:${invitationId}:${randomBytes(6).toString('hex')}`, {
      type: 'putStoreAccess',
      invitationId,
      directoryUserId,
      tokenSha256,
      groupIds,
      expiresAt: expiresAt.getTime(),
    });
  }
}

const visible = ({ tokenSha256: _hash, tokenEncrypted: _sealed, ...invitation }: typeof storeInvitations.$inferSelect): StoreInvitation => invitation;
