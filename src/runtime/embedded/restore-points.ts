import { and, eq } from 'drizzle-orm';
import type { RestoreScope } from '../commands.js';
import {
  liveWebClients,
  managementApps,
  managementTargets,
  managementVersions,
  publishedAppServices,
  publishedIdentityServices,
  runtimeRestorePoints,
  storeNotifications,
} from '../schema.js';
import type { RuntimeDb } from './db.js';

type Row<T extends { $inferSelect: unknown }> = T['$inferSelect'];

/** A Management app's rows as they were; times as milliseconds so that the image is JSON. */
interface ManagementImage {
  appId: number;
  preview: boolean;
  app: (Omit<Row<typeof managementApps>, 'updatedAt'> & { updatedAt: number }) | null;
  versions: (Omit<Row<typeof managementVersions>, 'publishedAt'> & { publishedAt: number })[];
  targets: Row<typeof managementTargets>[];
}

interface ServicesImage {
  appId: number;
  identityServices: (Omit<Row<typeof publishedIdentityServices>, 'publishedAt'> & { publishedAt: number })[];
  appServices: (Omit<Row<typeof publishedAppServices>, 'publishedAt' | 'activatedAt'> & { publishedAt: number; activatedAt: number | null }) | null;
  webClient: (Omit<Row<typeof liveWebClients>, 'deployedAt'> & { deployedAt: number }) | null;
}

/** What a restore point keeps: everything the job may change (R50). */
interface RestoreImage {
  jobId: number;
  management: ManagementImage[];
  services: ServicesImage | null;
}

const ms = (date: Date | null): number | null => (date ? date.getTime() : null);

/**
 * Restore points (R50): taken before a job's first change, put back on failure, cancel or
 * recovery, dropped when the job succeeded. All run inside the caller's transaction.
 */
export class RestorePoints {
  constructor(private readonly db: RuntimeDb) {}

  /** Keeps the first image under a key: a repeat after the job changed things must not replace it. */
  create(environmentId: number, key: string, scope: RestoreScope): boolean {
    if (this.db.select({ key: runtimeRestorePoints.key }).from(runtimeRestorePoints).where(eq(runtimeRestorePoints.key, key)).get()) return false;
    const image: RestoreImage = {
      jobId: scope.jobId,
      management: scope.management.map(({ appId, preview }) => this.managementImage(environmentId, appId, preview)),
      services: scope.services ? this.servicesImage(environmentId, scope.services.appId) : null,
    };
    const held = [
      ...image.management.flatMap((one) => one.versions.map((version) => version.artifactSha256)),
      ...(image.services?.webClient ? [image.services.webClient.artifactSha256] : []),
    ];
    this.db
      .insert(runtimeRestorePoints)
      .values({ key, environmentId, image: JSON.stringify(image), held: JSON.stringify([...new Set(held)]), createdAt: new Date() })
      .run();
    return true;
  }

  /** Puts back what the point kept and drops it; false when there is none (never taken, or already restored). */
  restore(environmentId: number, key: string): boolean {
    const point = this.db
      .select()
      .from(runtimeRestorePoints)
      .where(and(eq(runtimeRestorePoints.key, key), eq(runtimeRestorePoints.environmentId, environmentId)))
      .get();
    if (!point) return false;
    const image = JSON.parse(point.image) as RestoreImage;
    for (const one of image.management) this.restoreManagement(environmentId, one, image.jobId);
    if (image.services) this.restoreServices(environmentId, image.services);
    this.db.delete(runtimeRestorePoints).where(eq(runtimeRestorePoints.key, key)).run();
    return true;
  }

  discard(environmentId: number, key: string): boolean {
    return (
      this.db
        .delete(runtimeRestorePoints)
        .where(and(eq(runtimeRestorePoints.key, key), eq(runtimeRestorePoints.environmentId, environmentId)))
        .run().changes > 0
    );
  }

  /** Keys of the open restore points. */
  open(environmentId: number): string[] {
    return this.db
      .select({ key: runtimeRestorePoints.key })
      .from(runtimeRestorePoints)
      .where(eq(runtimeRestorePoints.environmentId, environmentId))
      .all()
      .map((row) => row.key);
  }

  private findApp(environmentId: number, appId: number, preview: boolean) {
    return this.db
      .select()
      .from(managementApps)
      .where(and(eq(managementApps.environmentId, environmentId), eq(managementApps.appId, appId), eq(managementApps.preview, preview)))
      .get();
  }

  private managementImage(environmentId: number, appId: number, preview: boolean): ManagementImage {
    const app = this.findApp(environmentId, appId, preview);
    if (!app) return { appId, preview, app: null, versions: [], targets: [] };
    return {
      appId,
      preview,
      app: { ...app, updatedAt: app.updatedAt.getTime() },
      versions: this.db
        .select()
        .from(managementVersions)
        .where(eq(managementVersions.managementAppId, app.id))
        .all()
        .map((version) => ({ ...version, publishedAt: version.publishedAt.getTime() })),
      targets: this.db.select().from(managementTargets).where(eq(managementTargets.managementAppId, app.id)).all(),
    };
  }

  /** Drops what the job added (versions, targets, notifications) and brings back what it removed. */
  private restoreManagement(environmentId: number, image: ManagementImage, jobId: number): void {
    const current = this.findApp(environmentId, image.appId, image.preview);
    this.db
      .delete(storeNotifications)
      .where(and(eq(storeNotifications.environmentId, environmentId), eq(storeNotifications.publishJobId, jobId)))
      .run();
    if (!image.app) {
      if (current) this.db.delete(managementApps).where(eq(managementApps.id, current.id)).run();
      return;
    }
    const { updatedAt, ...app } = image.app;
    if (current && current.id !== app.id) this.db.delete(managementApps).where(eq(managementApps.id, current.id)).run();
    if (current && current.id === app.id) this.db.update(managementApps).set({ ...app, updatedAt: new Date(updatedAt) }).where(eq(managementApps.id, app.id)).run();
    else this.db.insert(managementApps).values({ ...app, updatedAt: new Date(updatedAt) }).run();
    this.db.delete(managementVersions).where(eq(managementVersions.managementAppId, app.id)).run();
    this.db.delete(managementTargets).where(eq(managementTargets.managementAppId, app.id)).run();
    if (image.versions.length > 0)
      this.db
        .insert(managementVersions)
        .values(image.versions.map((version) => ({ ...version, publishedAt: new Date(version.publishedAt) })))
        .run();
    if (image.targets.length > 0) this.db.insert(managementTargets).values(image.targets).run();
  }

  private servicesImage(environmentId: number, appId: number): ServicesImage {
    const appServices = this.db
      .select()
      .from(publishedAppServices)
      .where(and(eq(publishedAppServices.appId, appId), eq(publishedAppServices.environmentId, environmentId)))
      .get();
    const webClient = this.db
      .select()
      .from(liveWebClients)
      .where(and(eq(liveWebClients.appId, appId), eq(liveWebClients.environmentId, environmentId)))
      .get();
    return {
      appId,
      identityServices: this.db
        .select()
        .from(publishedIdentityServices)
        .where(eq(publishedIdentityServices.environmentId, environmentId))
        .all()
        .map((row) => ({ ...row, publishedAt: row.publishedAt.getTime() })),
      appServices: appServices
        ? { ...appServices, publishedAt: appServices.publishedAt.getTime(), activatedAt: ms(appServices.activatedAt) }
        : null,
      webClient: webClient ? { ...webClient, deployedAt: webClient.deployedAt.getTime() } : null,
    };
  }

  private restoreServices(environmentId: number, image: ServicesImage): void {
    const { appId } = image;
    this.db.delete(publishedIdentityServices).where(eq(publishedIdentityServices.environmentId, environmentId)).run();
    if (image.identityServices.length > 0)
      this.db
        .insert(publishedIdentityServices)
        .values(image.identityServices.map((row) => ({ ...row, publishedAt: new Date(row.publishedAt) })))
        .run();
    this.db.delete(publishedAppServices).where(and(eq(publishedAppServices.appId, appId), eq(publishedAppServices.environmentId, environmentId))).run();
    if (image.appServices)
      this.db
        .insert(publishedAppServices)
        .values({
          ...image.appServices,
          publishedAt: new Date(image.appServices.publishedAt),
          activatedAt: image.appServices.activatedAt === null ? null : new Date(image.appServices.activatedAt),
        })
        .run();
    this.db.delete(liveWebClients).where(and(eq(liveWebClients.appId, appId), eq(liveWebClients.environmentId, environmentId))).run();
    if (image.webClient) this.db.insert(liveWebClients).values({ ...image.webClient, deployedAt: new Date(image.webClient.deployedAt) }).run();
  }
}

