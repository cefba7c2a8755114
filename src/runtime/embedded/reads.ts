import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import { appCredentials, liveWebClients, storeAccess, managementApps, managementTargets, managementVersions, publishedAppServices, publishedIdentityServices, storeNotifications } from '../schema.js';
import type { IntegrationService, ManagementApp, PublishedApp, ServicesState, StoreNotification } from '../types.js';
import type { RuntimeDb } from './db.js';

const time = (date: Date): number => date.getTime();

/** The runtime's reads, for many environments at once in a fixed number of statements. */
export class RuntimeReads {
  constructor(private readonly db: RuntimeDb) {}

  async managementOf(environmentIds: readonly number[]): Promise<ManagementApp[][]> {
    const apps = await this.db
      .select()
      .from(managementApps)
      .where(inArray(managementApps.environmentId, [...environmentIds]))
      .orderBy(asc(managementApps.appId), asc(managementApps.preview));
    const ids = apps.map((app) => app.id);
    const versions = ids.length === 0 ? [] : (await this.db
      .select()
      .from(managementVersions)
      .where(inArray(managementVersions.managementAppId, ids))
      .orderBy(asc(managementVersions.platform), desc(managementVersions.versionKey)));
    const targets = ids.length === 0 ? [] : (await this.db.select().from(managementTargets).where(inArray(managementTargets.managementAppId, ids)).orderBy(asc(managementTargets.id)));
    const whole = apps.map((app): ManagementApp => ({
      ...app,
      updatedAt: time(app.updatedAt),
      versions: versions
        .filter((version) => version.managementAppId === app.id)
        .map(({ managementAppId: _owner, publishedAt, ...version }) => ({ ...version, publishedAt: time(publishedAt) })),
      targets: targets.filter((target) => target.managementAppId === app.id).map((target) => ({ userId: target.userId, groupId: target.groupId })),
    }));
    return environmentIds.map((environmentId) => whole.filter((app) => app.environmentId === environmentId));
  }

  async servicesOf(environmentIds: readonly number[]): Promise<ServicesState[]> {
    const ids = [...environmentIds];
    const identity = await this.db
      .select()
      .from(publishedIdentityServices)
      .where(inArray(publishedIdentityServices.environmentId, ids))
      .orderBy(asc(sql`lower(${publishedIdentityServices.name})`));
    const appServices = await this.db.select().from(publishedAppServices).where(inArray(publishedAppServices.environmentId, ids)).orderBy(asc(publishedAppServices.appId));
    const webClients = await this.db.select().from(liveWebClients).where(inArray(liveWebClients.environmentId, ids)).orderBy(asc(liveWebClients.appId));
    return ids.map((environmentId) => ({
      identityServices: identity
        .filter((row) => row.environmentId === environmentId)
        .map(({ id: _id, publishedAt, ...row }) => ({ ...row, publishedAt: time(publishedAt) })),
      appServices: appServices
        .filter((row) => row.environmentId === environmentId)
        .map((row) => ({
          ...row,
          identityServices: JSON.parse(row.identityServices) as string[],
          integrationServices: JSON.parse(row.integrationServices) as IntegrationService[],
          publishedAt: time(row.publishedAt),
          activatedAt: row.activatedAt ? time(row.activatedAt) : null,
        })),
      webClients: webClients.filter((row) => row.environmentId === environmentId).map((row) => ({ ...row, deployedAt: time(row.deployedAt) })),
    }));
  }

  /**
   * The app published under this name (case-insensitive) in the environment: what its web client
   * and SDK configuration are served from (R53, R54). One statement, so a request sees one state.
   */
  async publishedApp(environmentId: number, appName: string): Promise<PublishedApp | null> {
    const row = (await this.db
      .select({ services: publishedAppServices, webClientSha256: liveWebClients.artifactSha256, credentials: appCredentials })
      .from(publishedAppServices)
      .leftJoin(liveWebClients, and(eq(liveWebClients.appId, publishedAppServices.appId), eq(liveWebClients.environmentId, publishedAppServices.environmentId)))
      .leftJoin(appCredentials, and(eq(appCredentials.appId, publishedAppServices.appId), eq(appCredentials.environmentId, publishedAppServices.environmentId)))
      .where(and(eq(publishedAppServices.environmentId, environmentId), sql`lower(${publishedAppServices.appName}) = lower(${appName})`))
      .limit(1))[0];
    if (!row) return null;
    const identityNames = new Set((JSON.parse(row.services.identityServices) as string[]).map((name) => name.toLowerCase()));
    const identityServices = (await this.db
      .select()
      .from(publishedIdentityServices)
      .where(eq(publishedIdentityServices.environmentId, environmentId))
      .orderBy(asc(sql`lower(${publishedIdentityServices.name})`))
      )
      .filter((service) => identityNames.has(service.name.toLowerCase()))
      .map((service) => ({ name: service.name, providerType: service.providerType }));
    return {
      appId: row.services.appId,
      appName: row.services.appName,
      webClientSha256: row.webClientSha256,
      identityServices,
      integrationServices: JSON.parse(row.services.integrationServices) as IntegrationService[],
      credentials: row.credentials ? { appKey: row.credentials.appKey, secretSha256: row.credentials.secretSha256 } : null,
    };
  }

  /**
   * R55: the Management apps a store link shows: ACTIVE ones with a version that target the
   * link's user directly or through a group. Null for a link unknown, revoked or expired.
   */
  async storeOf(environmentId: number, tokenSha256: string, now: number): Promise<{ directoryUserId: number; apps: ManagementApp[] } | null> {
    const access = (await this.db
      .select()
      .from(storeAccess)
      .where(and(eq(storeAccess.environmentId, environmentId), eq(storeAccess.tokenSha256, tokenSha256)))
      .limit(1))[0];
    if (!access || access.revoked || access.expiresAt.getTime() <= now) return null;
    const groups = new Set(JSON.parse(access.groupIds) as number[]);
    const apps = ((await this.managementOf([environmentId]))[0] ?? []).filter(
      (app) =>
        app.workflowState === 'ACTIVE' &&
        app.versions.length > 0 &&
        app.targets.some((target) => target.userId === access.directoryUserId || (target.groupId !== null && groups.has(target.groupId))),
    );
    return { directoryUserId: access.directoryUserId, apps };
  }

  /** Newest first. */
  async notificationsOf(environmentIds: readonly number[], directoryUserIds: readonly number[]): Promise<StoreNotification[]> {
    return (await this.db
      .select()
      .from(storeNotifications)
      .where(and(inArray(storeNotifications.environmentId, [...environmentIds]), inArray(storeNotifications.directoryUserId, [...directoryUserIds])))
      .orderBy(desc(storeNotifications.id))
      )
      .map((row) => ({ ...row, createdAt: time(row.createdAt) }));
  }
}
