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
  async create(environmentId: number, key: string, scope: RestoreScope): Promise<boolean> {
    if ((await this.db.select({ key: runtimeRestorePoints.key }).from(runtimeRestorePoints).where(eq(runtimeRestorePoints.key, key)).limit(1))[0]) return false;
    const image: RestoreImage = {
      jobId: scope.jobId,
      management: await Promise.all(scope.management.map(({ appId, preview }) => this.managementImage(environmentId, appId, preview))),
      services: scope.services ? await this.servicesImage(environmentId, scope.services.appId) : null,
    };
    const held = [
      ...image.management.flatMap((one) => one.versions.map((version) => version.artifactSha256)),
      ...(image.services?.webClient ? [image.services.webClient.artifactSha256] : []),
    ];
    await this.db
      .insert(runtimeRestorePoints)
      .values({ key, environmentId, image: JSON.stringify(image), held: JSON.stringify([...new Set(held)]), createdAt: new Date() });
    return true;
  }

  /** Puts back what the point kept and drops it; false when there is none (never taken, or already restored). */
  async restore(environmentId: number, key: string): Promise<boolean> {
    const point = (await this.db
      .select()
      .from(runtimeRestorePoints)
      .where(and(eq(runtimeRestorePoints.key, key), eq(runtimeRestorePoints.environmentId, environmentId)))
      .limit(1))[0];
    if (!point) return false;
    const image = JSON.parse(point.image) as RestoreImage;
    for (const one of image.management) await this.restoreManagement(environmentId, one, image.jobId);
    if (image.services) await this.restoreServices(environmentId, image.services);
    await this.db.delete(runtimeRestorePoints).where(eq(runtimeRestorePoints.key, key));
    return true;
  }

  async discard(environmentId: number, key: string): Promise<boolean> {
    return (
      (
        await this.db
          .delete(runtimeRestorePoints)
          .where(and(eq(runtimeRestorePoints.key, key), eq(runtimeRestorePoints.environmentId, environmentId)))
          .returning({ key: runtimeRestorePoints.key })
      ).length > 0
    );
  }

  /** Keys of the open restore points. */
  async open(environmentId: number): Promise<string[]> {
    return (await this.db
      .select({ key: runtimeRestorePoints.key })
      .from(runtimeRestorePoints)
      .where(eq(runtimeRestorePoints.environmentId, environmentId))
      )
      .map((row) => row.key);
  }

  private async findApp(environmentId: number, appId: number, preview: boolean) {
    return (await this.db
      .select()
      .from(managementApps)
      .where(and(eq(managementApps.environmentId, environmentId), eq(managementApps.appId, appId), eq(managementApps.preview, preview)))
      .limit(1))[0];
  }

  private async managementImage(environmentId: number, appId: number, preview: boolean): Promise<ManagementImage> {
    const app = await this.findApp(environmentId, appId, preview);
    if (!app) return { appId, preview, app: null, versions: [], targets: [] };
    return {
      appId,
      preview,
      app: { ...app, updatedAt: app.updatedAt.getTime() },
      versions: (await this.db
        .select()
        .from(managementVersions)
        .where(eq(managementVersions.managementAppId, app.id))
        )
        .map((version) => ({ ...version, publishedAt: version.publishedAt.getTime() })),
      targets: await this.db.select().from(managementTargets).where(eq(managementTargets.managementAppId, app.id)),
    };
  }

  /** Drops what the job added (versions, targets, notifications) and brings back what it removed. */
  private async restoreManagement(environmentId: number, image: ManagementImage, jobId: number): Promise<void> {
    const current = await this.findApp(environmentId, image.appId, image.preview);
    await this.db
      .delete(storeNotifications)
      .where(and(eq(storeNotifications.environmentId, environmentId), eq(storeNotifications.publishJobId, jobId)));
    if (!image.app) {
      if (current) await this.db.delete(managementApps).where(eq(managementApps.id, current.id));
      return;
    }
    const { updatedAt, ...app } = image.app;
    if (current && current.id !== app.id) await this.db.delete(managementApps).where(eq(managementApps.id, current.id));
    if (current && current.id === app.id) await this.db.update(managementApps).set({ ...app, updatedAt: new Date(updatedAt) }).where(eq(managementApps.id, app.id));
    else await this.db.insert(managementApps).values({ ...app, updatedAt: new Date(updatedAt) });
    await this.db.delete(managementVersions).where(eq(managementVersions.managementAppId, app.id));
    await this.db.delete(managementTargets).where(eq(managementTargets.managementAppId, app.id));
    if (image.versions.length > 0)
      await this.db
        .insert(managementVersions)
        .values(image.versions.map((version) => ({ ...version, publishedAt: new Date(version.publishedAt) })));
    if (image.targets.length > 0) await this.db.insert(managementTargets).values(image.targets);
  }

  private async servicesImage(environmentId: number, appId: number): Promise<ServicesImage> {
    const appServices = (await this.db
      .select()
      .from(publishedAppServices)
      .where(and(eq(publishedAppServices.appId, appId), eq(publishedAppServices.environmentId, environmentId)))
      .limit(1))[0];
    const webClient = (await this.db
      .select()
      .from(liveWebClients)
      .where(and(eq(liveWebClients.appId, appId), eq(liveWebClients.environmentId, environmentId)))
      .limit(1))[0];
    return {
      appId,
      identityServices: (await this.db
        .select()
        .from(publishedIdentityServices)
        .where(eq(publishedIdentityServices.environmentId, environmentId))
        )
        .map((row) => ({ ...row, publishedAt: row.publishedAt.getTime() })),
      appServices: appServices
        ? { ...appServices, publishedAt: appServices.publishedAt.getTime(), activatedAt: ms(appServices.activatedAt) }
        : null,
      webClient: webClient ? { ...webClient, deployedAt: webClient.deployedAt.getTime() } : null,
    };
  }

  private async restoreServices(environmentId: number, image: ServicesImage): Promise<void> {
    const { appId } = image;
    await this.db.delete(publishedIdentityServices).where(eq(publishedIdentityServices.environmentId, environmentId));
    if (image.identityServices.length > 0)
      await this.db
        .insert(publishedIdentityServices)
        .values(image.identityServices.map((row) => ({ ...row, publishedAt: new Date(row.publishedAt) })));
    await this.db.delete(publishedAppServices).where(and(eq(publishedAppServices.appId, appId), eq(publishedAppServices.environmentId, environmentId)));
    if (image.appServices)
      await this.db
        .insert(publishedAppServices)
        .values({
          ...image.appServices,
          publishedAt: new Date(image.appServices.publishedAt),
          activatedAt: image.appServices.activatedAt === null ? null : new Date(image.appServices.activatedAt),
        });
    await this.db.delete(liveWebClients).where(and(eq(liveWebClients.appId, appId), eq(liveWebClients.environmentId, environmentId)));
    if (image.webClient) await this.db.insert(liveWebClients).values({ ...image.webClient, deployedAt: new Date(image.webClient.deployedAt) });
  }
}

