import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { liveWebClients, publishedAppServices, publishedIdentityServices } from '../db/schema.js';
import type { IdentityService } from './apps.js';
import { listsByKey } from './rows.js';

export type PublishedIdentityService = typeof publishedIdentityServices.$inferSelect;
export type PublishedAppServices = typeof publishedAppServices.$inferSelect;
export type LiveWebClient = typeof liveWebClients.$inferSelect;

type Timestamps<T, K extends keyof T> = Omit<T, K> & { [key in K]: number | null };

/** What a services job may change in one environment, as taken before it starts (R23). */
export interface ServicesSnapshot {
  environmentId: number;
  appId: number;
  identityServices: Timestamps<PublishedIdentityService, 'publishedAt'>[];
  appServices: Timestamps<PublishedAppServices, 'publishedAt' | 'activatedAt'> | null;
  webClient: Timestamps<LiveWebClient, 'deployedAt'> | null;
}

const time = (date: Date | null): number | null => (date ? date.getTime() : null);
const date = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

/**
 * The embedded Foundry runtime of each environment (R36-R39): which apps' services it serves,
 * the identity services they share, and each app's live web client.
 */
export class ServicesRuntime {
  constructor(private readonly db: Db) {}

  identityServicesOf(environmentIds: readonly number[]): PublishedIdentityService[][] {
    const rows = this.db
      .select()
      .from(publishedIdentityServices)
      .where(inArray(publishedIdentityServices.environmentId, [...environmentIds]))
      .orderBy(asc(sql`lower(${publishedIdentityServices.name})`))
      .all();
    return listsByKey(environmentIds, rows, (row) => row.environmentId);
  }

  /**
   * Environments holding identity services that this app's publish last wrote: other apps there
   * still use them after the app itself was unpublished (R37).
   */
  environmentsWithIdentityServicesBy(appId: number): Set<number> {
    const rows = this.db
      .selectDistinct({ environmentId: publishedIdentityServices.environmentId })
      .from(publishedIdentityServices)
      .where(eq(publishedIdentityServices.publishedByAppId, appId))
      .all();
    return new Set(rows.map((row) => row.environmentId));
  }

  /** R37: each environment's identity services with the apps there that use them, by app id. */
  identityServicesWithUsers(environmentIds: readonly number[]): { service: PublishedIdentityService; usedBy: number[] }[][] {
    const publications = this.appServicesOf(environmentIds);
    return this.identityServicesOf(environmentIds).map((services) =>
      services.map((service) => ({
        service,
        usedBy: publications
          .filter((publication) => publication.environmentId === service.environmentId)
          .filter((publication) => ServicesRuntime.usedNames(publication).some((name) => name.toLowerCase() === service.name.toLowerCase()))
          .map((publication) => publication.appId)
          .sort((a, b) => a - b),
      })),
    );
  }

  /** Every app publication of these environments, to tell who uses which identity service. */
  appServicesOf(environmentIds: readonly number[]): PublishedAppServices[] {
    return this.db.select().from(publishedAppServices).where(inArray(publishedAppServices.environmentId, [...environmentIds])).all();
  }

  appServicesOfApps(appIds: readonly number[]): PublishedAppServices[] {
    return this.db.select().from(publishedAppServices).where(inArray(publishedAppServices.appId, [...appIds])).all();
  }

  webClientsOfApps(appIds: readonly number[]): LiveWebClient[] {
    return this.db.select().from(liveWebClients).where(inArray(liveWebClients.appId, [...appIds])).all();
  }

  appServices(appId: number, environmentId: number): PublishedAppServices | undefined {
    return this.db
      .select()
      .from(publishedAppServices)
      .where(and(eq(publishedAppServices.appId, appId), eq(publishedAppServices.environmentId, environmentId)))
      .get();
  }

  webClient(appId: number, environmentId: number): LiveWebClient | undefined {
    return this.db
      .select()
      .from(liveWebClients)
      .where(and(eq(liveWebClients.appId, appId), eq(liveWebClients.environmentId, environmentId)))
      .get();
  }

  /** Names of identity services an app's publication uses. */
  static usedNames(publication: PublishedAppServices): string[] {
    return JSON.parse(publication.identityServices) as string[];
  }

  /** Other apps of the environment whose publications use any of these identity services (R37). */
  otherUsers(environmentId: number, appId: number, names: string[]): number[] {
    const wanted = new Set(names.map((name) => name.toLowerCase()));
    return this.appServicesOf([environmentId])
      .filter((publication) => publication.appId !== appId)
      .filter((publication) => ServicesRuntime.usedNames(publication).some((name) => wanted.has(name.toLowerCase())))
      .map((publication) => publication.appId);
  }

  /** R37: the latest publish of any app defines the identity service for the whole environment. */
  publishIdentityServices(environmentId: number, appId: number, jobId: number, services: IdentityService[]): void {
    const now = new Date();
    for (const service of services) {
      this.db
        .insert(publishedIdentityServices)
        .values({ environmentId, name: service.name, providerType: service.providerType, publishedByAppId: appId, publishedAt: now, publishJobId: jobId })
        .onConflictDoUpdate({
          target: [publishedIdentityServices.environmentId, sql`lower(${publishedIdentityServices.name})`],
          set: { name: service.name, providerType: service.providerType, publishedByAppId: appId, publishedAt: now, publishJobId: jobId },
        })
        .run();
    }
  }

  publishAppServices(environmentId: number, appId: number, jobId: number, identityServiceNames: string[]): void {
    const values = { identityServices: JSON.stringify(identityServiceNames), publishedAt: new Date(), activatedAt: null, publishJobId: jobId };
    this.db
      .insert(publishedAppServices)
      .values({ appId, environmentId, ...values })
      .onConflictDoUpdate({ target: [publishedAppServices.appId, publishedAppServices.environmentId], set: values })
      .run();
  }

  /** R38: one live web client per app and environment; a new one replaces it. */
  deployWebClient(environmentId: number, appId: number, jobId: number, binaryId: number, artifactSha256: string): void {
    const values = { binaryId, artifactSha256, deployedAt: new Date(), publishJobId: jobId };
    this.db
      .insert(liveWebClients)
      .values({ appId, environmentId, ...values })
      .onConflictDoUpdate({ target: [liveWebClients.appId, liveWebClients.environmentId], set: values })
      .run();
  }

  activate(environmentId: number, appId: number): void {
    this.db
      .update(publishedAppServices)
      .set({ activatedAt: new Date() })
      .where(and(eq(publishedAppServices.appId, appId), eq(publishedAppServices.environmentId, environmentId)))
      .run();
  }

  /**
   * R39: takes the app's services and web client out of the environment; identity services stay
   * while another app there still uses them. Answers the identity services removed.
   */
  unpublish(environmentId: number, appId: number): string[] {
    const publication = this.appServices(appId, environmentId);
    const names = publication ? ServicesRuntime.usedNames(publication) : [];
    this.db.delete(publishedAppServices).where(and(eq(publishedAppServices.appId, appId), eq(publishedAppServices.environmentId, environmentId))).run();
    this.db.delete(liveWebClients).where(and(eq(liveWebClients.appId, appId), eq(liveWebClients.environmentId, environmentId))).run();
    const stillUsed = new Set(
      this.appServicesOf([environmentId]).flatMap((other) => ServicesRuntime.usedNames(other).map((name) => name.toLowerCase())),
    );
    const removable = names.filter((name) => !stillUsed.has(name.toLowerCase()));
    for (const name of removable) {
      this.db
        .delete(publishedIdentityServices)
        .where(and(eq(publishedIdentityServices.environmentId, environmentId), sql`lower(${publishedIdentityServices.name}) = lower(${name})`))
        .run();
    }
    return removable;
  }

  snapshot(environmentId: number, appId: number): ServicesSnapshot {
    const appServices = this.appServices(appId, environmentId);
    const webClient = this.webClient(appId, environmentId);
    return {
      environmentId,
      appId,
      identityServices: (this.identityServicesOf([environmentId])[0] ?? []).map((row) => ({ ...row, publishedAt: time(row.publishedAt) })),
      appServices: appServices ? { ...appServices, publishedAt: time(appServices.publishedAt), activatedAt: time(appServices.activatedAt) } : null,
      webClient: webClient ? { ...webClient, deployedAt: time(webClient.deployedAt) } : null,
    };
  }

  /** Puts the environment's services back exactly as snapshotted, inside the caller's transaction. */
  restore(snapshot: ServicesSnapshot): void {
    const { environmentId, appId } = snapshot;
    this.db.delete(publishedIdentityServices).where(eq(publishedIdentityServices.environmentId, environmentId)).run();
    if (snapshot.identityServices.length > 0)
      this.db
        .insert(publishedIdentityServices)
        .values(snapshot.identityServices.map((row) => ({ ...row, publishedAt: date(row.publishedAt) ?? new Date(0) })))
        .run();
    this.db.delete(publishedAppServices).where(and(eq(publishedAppServices.appId, appId), eq(publishedAppServices.environmentId, environmentId))).run();
    if (snapshot.appServices)
      this.db
        .insert(publishedAppServices)
        .values({ ...snapshot.appServices, publishedAt: date(snapshot.appServices.publishedAt) ?? new Date(0), activatedAt: date(snapshot.appServices.activatedAt) })
        .run();
    this.db.delete(liveWebClients).where(and(eq(liveWebClients.appId, appId), eq(liveWebClients.environmentId, environmentId))).run();
    if (snapshot.webClient)
      this.db
        .insert(liveWebClients)
        .values({ ...snapshot.webClient, deployedAt: date(snapshot.webClient.deployedAt) ?? new Date(0) })
        .run();
  }
}
