import { generateKeyPairSync, sign } from 'node:crypto';
import { and, asc, desc, eq, inArray, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import {
  directoryGroupMembers,
  directoryUsers,
  environments,
  environmentSigningKeys,
  managementApps,
  managementTargets,
  managementVersions,
  storeNotifications,
} from '../db/schema.js';
import type { ClientPlatform } from './binaries/platforms.js';
import type { Principal } from './principal.js';
import { inIdOrder, listsByKey } from './rows.js';

export type ManagementApp = typeof managementApps.$inferSelect;
export type ManagementVersion = typeof managementVersions.$inferSelect;
export type ManagementTarget = typeof managementTargets.$inferSelect;
export type StoreNotification = typeof storeNotifications.$inferSelect;
export type WorkflowState = ManagementApp['workflowState'];
export type SignAction = ManagementApp['signAction'];

/** A Management app's whole state, as taken before a job changes it (R23). */
export interface ManagementAppSnapshot {
  environmentId: number;
  appId: number;
  preview: boolean;
  app: (Omit<ManagementApp, 'updatedAt'> & { updatedAt: number }) | null;
  versions: (Omit<ManagementVersion, 'publishedAt'> & { publishedAt: number })[];
  targets: ManagementTarget[];
}


/**
 * The embedded Volt MX Management runtime (R26-R34): Management apps per environment, their
 * versions, targets and workflow state, the Enterprise Store and its notifications.
 */
export class ManagementService {
  constructor(private readonly db: Db) {}

  byIds(principal: Principal, ids: readonly number[]): (ManagementApp | null)[] {
    const rows = this.db
      .select()
      .from(managementApps)
      .where(and(eq(managementApps.accountId, principal.accountId), inArray(managementApps.id, [...ids])))
      .all();
    return inIdOrder(ids, rows);
  }

  find(environmentId: number, appId: number, preview: boolean): ManagementApp | undefined {
    return this.db
      .select()
      .from(managementApps)
      .where(and(eq(managementApps.environmentId, environmentId), eq(managementApps.appId, appId), eq(managementApps.preview, preview)))
      .get();
  }

  appsOfEnvironments(environmentIds: readonly number[]): ManagementApp[][] {
    const rows = this.db
      .select()
      .from(managementApps)
      .where(inArray(managementApps.environmentId, [...environmentIds]))
      .orderBy(asc(managementApps.appId), asc(managementApps.preview))
      .all();
    return listsByKey(environmentIds, rows, (row) => row.environmentId);
  }

  /**
   * ACTIVE Management apps that target this directory user or group and nothing else: removing it
   * from the directory would leave them in the Enterprise Store for no one.
   */
  activeAppsOnlyTargeting(principal: { userId: number } | { groupId: number }): ManagementApp[] {
    const isIt = 'userId' in principal ? eq(managementTargets.userId, principal.userId) : eq(managementTargets.groupId, principal.groupId);
    const targeting = this.db
      .selectDistinct({ id: managementTargets.managementAppId })
      .from(managementTargets)
      .innerJoin(managementApps, eq(managementApps.id, managementTargets.managementAppId))
      .where(and(isIt, eq(managementApps.workflowState, 'ACTIVE')))
      .all()
      .map((row) => row.id);
    if (targeting.length === 0) return [];
    const targets = this.targetsOf(targeting);
    const only = targeting.filter((_id, index) =>
      (targets[index] ?? []).every((target) => ('userId' in principal ? target.userId === principal.userId : target.groupId === principal.groupId)),
    );
    return only.length === 0 ? [] : this.db.select().from(managementApps).where(inArray(managementApps.id, only)).all();
  }

  /** Versions of many Management apps: by platform, newest first. */
  versionsOf(managementAppIds: readonly number[]): ManagementVersion[][] {
    const rows = this.db
      .select()
      .from(managementVersions)
      .where(inArray(managementVersions.managementAppId, [...managementAppIds]))
      .orderBy(asc(managementVersions.platform), desc(managementVersions.versionKey))
      .all();
    return listsByKey(managementAppIds, rows, (row) => row.managementAppId);
  }

  targetsOf(managementAppIds: readonly number[]): ManagementTarget[][] {
    const rows = this.db
      .select()
      .from(managementTargets)
      .where(inArray(managementTargets.managementAppId, [...managementAppIds]))
      .orderBy(asc(managementTargets.id))
      .all();
    return listsByKey(managementAppIds, rows, (row) => row.managementAppId);
  }

  /** R33: ACTIVE apps of the environment that target the user directly or through a group. */
  enterpriseStore(environmentId: number, directoryUserId: number): ManagementApp[] {
    const groupIds = this.db
      .select({ id: directoryGroupMembers.groupId })
      .from(directoryGroupMembers)
      .where(eq(directoryGroupMembers.userId, directoryUserId));
    const targeted = this.db
      .selectDistinct({ id: managementTargets.managementAppId })
      .from(managementTargets)
      .where(or(eq(managementTargets.userId, directoryUserId), inArray(managementTargets.groupId, groupIds)));
    return this.db
      .select()
      .from(managementApps)
      .where(
        and(
          eq(managementApps.environmentId, environmentId),
          eq(managementApps.workflowState, 'ACTIVE'),
          inArray(managementApps.id, targeted),
        ),
      )
      .orderBy(asc(managementApps.appId), asc(managementApps.preview))
      .all();
  }

  notificationsOf(directoryUserIds: readonly number[]): StoreNotification[][] {
    const rows = this.db
      .select()
      .from(storeNotifications)
      .where(inArray(storeNotifications.directoryUserId, [...directoryUserIds]))
      .orderBy(desc(storeNotifications.id))
      .all();
    return listsByKey(directoryUserIds, rows, (row) => row.directoryUserId);
  }

  notificationsByIds(principal: Principal, ids: readonly number[]): (StoreNotification | null)[] {
    const rows = this.db
      .select()
      .from(storeNotifications)
      .where(and(eq(storeNotifications.accountId, principal.accountId), inArray(storeNotifications.id, [...ids])))
      .all();
    return inIdOrder(ids, rows);
  }

  /** R20: the environments whose Management runtime still serves this binary. */
  environmentsServing(binaryId: number): string[] {
    return this.db
      .selectDistinct({ name: environments.name })
      .from(managementVersions)
      .innerJoin(managementApps, eq(managementApps.id, managementVersions.managementAppId))
      .innerJoin(environments, eq(environments.id, managementApps.environmentId))
      .where(eq(managementVersions.binaryId, binaryId))
      .orderBy(asc(environments.name))
      .all()
      .map((row) => row.name);
  }

  /** Whether the app has any version in the environment's Management runtime (AppEnvironmentStatus). */
  publishedPairs(appIds: readonly number[]): Set<string> {
    const rows = this.db
      .selectDistinct({ appId: managementApps.appId, environmentId: managementApps.environmentId })
      .from(managementApps)
      .innerJoin(managementVersions, eq(managementVersions.managementAppId, managementApps.id))
      .where(inArray(managementApps.appId, [...appIds]))
      .all();
    return new Set(rows.map((row) => `${row.appId}:${row.environmentId}`));
  }

  /** The highest version per platform that the Management app holds (R30). */
  highestVersions(managementAppId: number): Map<ClientPlatform, ManagementVersion> {
    const highest = new Map<ClientPlatform, ManagementVersion>();
    for (const version of this.versionsOf([managementAppId])[0] ?? []) {
      if (!highest.has(version.platform)) highest.set(version.platform, version);
    }
    return highest;
  }

  /** The environment's public signing key (SPKI PEM), made on first use (R29). */
  publicKey(environmentId: number): string {
    return this.signingKey(environmentId).publicKeyPem;
  }

  /** Ed25519 over the artifact's SHA-256 digest; base64 (R29). */
  signArtifact(environmentId: number, artifactSha256: string): string {
    const { privateKeyPem } = this.signingKey(environmentId);
    return sign(null, Buffer.from(artifactSha256, 'hex'), privateKeyPem).toString('base64');
  }

  private signingKey(environmentId: number): typeof environmentSigningKeys.$inferSelect {
    const read = () => this.db.select().from(environmentSigningKeys).where(eq(environmentSigningKeys.environmentId, environmentId)).get();
    const existing = read();
    if (existing) return existing;
    const pair = generateKeyPairSync('ed25519', {
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    this.db
      .insert(environmentSigningKeys)
      .values({ environmentId, publicKeyPem: pair.publicKey, privateKeyPem: pair.privateKey })
      .onConflictDoNothing()
      .run();
    const stored = read();
    if (!stored) throw new Error(`environment ${environmentId} has no signing key`);
    return stored;
  }

  snapshot(environmentId: number, appId: number, preview: boolean): ManagementAppSnapshot {
    const app = this.find(environmentId, appId, preview) ?? null;
    const versions = app ? (this.versionsOf([app.id])[0] ?? []) : [];
    const targets = app ? (this.targetsOf([app.id])[0] ?? []) : [];
    return {
      environmentId,
      appId,
      preview,
      app: app ? { ...app, updatedAt: app.updatedAt.getTime() } : null,
      versions: versions.map((version) => ({ ...version, publishedAt: version.publishedAt.getTime() })),
      targets,
    };
  }

  /**
   * Puts a Management app back exactly as snapshotted (R23), dropping what the job added
   * (versions, targets, notifications) and bringing back what it removed. Runs inside the
   * caller's transaction.
   */
  restore(snapshot: ManagementAppSnapshot, jobId: number): void {
    const current = this.find(snapshot.environmentId, snapshot.appId, snapshot.preview);
    this.db.delete(storeNotifications).where(eq(storeNotifications.publishJobId, jobId)).run();
    if (!snapshot.app) {
      if (current) this.db.delete(managementApps).where(eq(managementApps.id, current.id)).run();
      return;
    }
    const { updatedAt, ...app } = snapshot.app;
    if (current) {
      this.db.update(managementApps).set({ ...app, updatedAt: new Date(updatedAt) }).where(eq(managementApps.id, current.id)).run();
    } else {
      this.db.insert(managementApps).values({ ...app, updatedAt: new Date(updatedAt) }).run();
    }
    this.db.delete(managementVersions).where(eq(managementVersions.managementAppId, snapshot.app.id)).run();
    this.db.delete(managementTargets).where(eq(managementTargets.managementAppId, snapshot.app.id)).run();
    if (snapshot.versions.length > 0)
      this.db
        .insert(managementVersions)
        .values(snapshot.versions.map((version) => ({ ...version, publishedAt: new Date(version.publishedAt) })))
        .run();
    if (snapshot.targets.length > 0) this.db.insert(managementTargets).values(snapshot.targets).run();
  }

  /** Finds or creates the Management app and refreshes its description and sign action (R30). */
  upsertApp(input: {
    accountId: number;
    environmentId: number;
    appId: number;
    preview: boolean;
    signAction: SignAction;
    description: string | null;
    workflowState: WorkflowState;
  }): ManagementApp {
    const existing = this.find(input.environmentId, input.appId, input.preview);
    const now = new Date();
    if (existing) {
      return this.db
        .update(managementApps)
        .set({ signAction: input.signAction, description: input.description, updatedAt: now })
        .where(eq(managementApps.id, existing.id))
        .returning()
        .get();
    }
    // A new app starts as a DRAFT; SET_WORKFLOW_STATE makes it what was asked.
    return this.db
      .insert(managementApps)
      .values({ ...input, workflowState: 'DRAFT', updatedAt: now })
      .returning()
      .get();
  }

  addVersions(rows: (typeof managementVersions.$inferInsert)[]): void {
    if (rows.length > 0) this.db.insert(managementVersions).values(rows).run();
  }

  /** Removes every version of these platforms (R27); answers how many went. */
  removePlatforms(managementAppId: number, platforms: ClientPlatform[]): number {
    if (platforms.length === 0) return 0;
    return this.db
      .delete(managementVersions)
      .where(and(eq(managementVersions.managementAppId, managementAppId), inArray(managementVersions.platform, platforms)))
      .run().changes;
  }

  removeVersion(managementAppId: number, platform: ClientPlatform, versionKey: string): number {
    return this.db
      .delete(managementVersions)
      .where(
        and(
          eq(managementVersions.managementAppId, managementAppId),
          eq(managementVersions.platform, platform),
          eq(managementVersions.versionKey, versionKey),
        ),
      )
      .run().changes;
  }

  replaceTargets(managementAppId: number, targets: { userIds: number[]; groupIds: number[] }): void {
    this.db.delete(managementTargets).where(eq(managementTargets.managementAppId, managementAppId)).run();
    const rows = [
      ...targets.userIds.map((userId) => ({ managementAppId, userId, groupId: null })),
      ...targets.groupIds.map((groupId) => ({ managementAppId, userId: null, groupId })),
    ];
    if (rows.length > 0) this.db.insert(managementTargets).values(rows).run();
  }

  setWorkflowState(managementAppId: number, workflowState: WorkflowState): void {
    this.db.update(managementApps).set({ workflowState, updatedAt: new Date() }).where(eq(managementApps.id, managementAppId)).run();
  }

  /**
   * R34: one notification per targeted user, group members included and each once. CLOUD users
   * cannot be targeted, so membership of a group does not reach them either.
   */
  notifyTargets(managementApp: ManagementApp, jobId: number, message: string): number {
    const targets = this.targetsOf([managementApp.id])[0] ?? [];
    const direct = targets.map((target) => target.userId).filter((id): id is number => id !== null);
    const groupIds = targets.map((target) => target.groupId).filter((id): id is number => id !== null);
    const members =
      groupIds.length === 0
        ? []
        : this.db
            .select({ id: directoryGroupMembers.userId })
            .from(directoryGroupMembers)
            .where(inArray(directoryGroupMembers.groupId, groupIds))
            .all()
            .map((row) => row.id);
    const candidates = [...new Set([...direct, ...members])];
    if (candidates.length === 0) return 0;
    const reachable = this.db
      .select({ id: directoryUsers.id })
      .from(directoryUsers)
      .where(and(inArray(directoryUsers.id, candidates), sql`${directoryUsers.source} <> 'CLOUD'`))
      .orderBy(asc(directoryUsers.id))
      .all();
    if (reachable.length > 0)
      this.db
        .insert(storeNotifications)
        .values(reachable.map((user) => ({ accountId: managementApp.accountId, directoryUserId: user.id, managementAppId: managementApp.id, publishJobId: jobId, message })))
        .run();
    return reachable.length;
  }

  /** R39: removes the app's production and preview Management apps; answers how many there were. */
  removeApps(environmentId: number, appId: number): number {
    return this.db
      .delete(managementApps)
      .where(and(eq(managementApps.environmentId, environmentId), eq(managementApps.appId, appId)))
      .run().changes;
  }

  /** Blobs that Management versions deliver, so they are kept while served. */
  artifactInUse(sha256: string): boolean {
    return this.db.select({ id: managementVersions.id }).from(managementVersions).where(eq(managementVersions.artifactSha256, sha256)).limit(1).get() !== undefined;
  }
}

