import { and, eq, inArray, sql } from 'drizzle-orm';
import { oneRow } from '../../db/queries.js';
import type { CommandOf, CommandResult, CommandType, RuntimeCommand } from '../commands.js';
import { RuntimeRefusedError } from '../errors.js';
import {
  appCredentials,
  liveWebClients,
  managementApps,
  managementTargets,
  managementVersions,
  publishedAppServices,
  publishedIdentityServices,
  runtimeBlobs,
  runtimeCommands,
  storeAccess,
  storeNotifications,
} from '../schema.js';
import type { RuntimeDb } from './db.js';
import { RestorePoints } from './restore-points.js';

/**
 * The runtime's changes (R49): each applied once per idempotency key, in one transaction with the
 * record of its answer, so that a repeat after a lost answer gets that answer and changes nothing.
 */
export class RuntimeCommands {
  readonly restorePoints: RestorePoints;

  constructor(private readonly db: RuntimeDb) {
    this.restorePoints = new RestorePoints(db);
  }

  async apply<T extends CommandType>(environmentId: number, key: string, command: CommandOf<T>): Promise<CommandResult<T>> {
    return await this.db.transaction(async () => {
      const seen = (await this.db.select().from(runtimeCommands).where(eq(runtimeCommands.key, key)).limit(1))[0];
      if (seen) {
        if (seen.type !== command.type || seen.environmentId !== environmentId)
          throw new RuntimeRefusedError('CONFLICT', `idempotency key ${key} was used for another change`);
        return JSON.parse(seen.result) as CommandResult<T>;
      }
      const result = await this.change(environmentId, command as RuntimeCommand) as CommandResult<T>;
      await this.db.insert(runtimeCommands).values({ key, environmentId, type: command.type, result: JSON.stringify(result), appliedAt: new Date() });
      return result;
    });
  }

  private async app(environmentId: number, appId: number, preview: boolean) {
    const found = (await this.db
      .select()
      .from(managementApps)
      .where(and(eq(managementApps.environmentId, environmentId), eq(managementApps.appId, appId), eq(managementApps.preview, preview)))
      .limit(1))[0];
    if (!found) throw new RuntimeRefusedError('CONFLICT', `no Management app for app ${appId}${preview ? ' (preview)' : ''}`);
    return found;
  }

  private async requireBlob(sha256: string): Promise<void> {
    if (!(await this.db.select({ sha256: runtimeBlobs.sha256 }).from(runtimeBlobs).where(eq(runtimeBlobs.sha256, sha256)).limit(1))[0])
      throw new RuntimeRefusedError('BLOB_MISSING', `the runtime holds no file ${sha256}; send it first`);
  }

  private async change(environmentId: number, command: RuntimeCommand): Promise<CommandResults[CommandType]> {
    const now = new Date();
    switch (command.type) {
      case 'createRestorePoint':
        return { created: await this.restorePoints.create(environmentId, command.restorePoint, command.scope) };
      case 'restore':
        return { restored: await this.restorePoints.restore(environmentId, command.restorePoint) };
      case 'discardRestorePoint':
        return { discarded: await this.restorePoints.discard(environmentId, command.restorePoint) };
      case 'upsertManagementApp': {
        const { appId, preview, signAction, description } = command;
        const appName = command.appName ?? '';
        const existing = (await this.db
          .select()
          .from(managementApps)
          .where(and(eq(managementApps.environmentId, environmentId), eq(managementApps.appId, appId), eq(managementApps.preview, preview)))
          .limit(1))[0];
        if (existing) {
          await this.db.update(managementApps).set({ appName, signAction, description, updatedAt: now }).where(eq(managementApps.id, existing.id));
          return { managementAppId: existing.id };
        }
        // A new app starts as a DRAFT; setWorkflowState makes it what was asked.
        const created = oneRow(await this.db
          .insert(managementApps)
          .values({ environmentId, appId, appName, preview, signAction, description, workflowState: 'DRAFT', updatedAt: now })
          .returning());
        return { managementAppId: created.id };
      }
      case 'addVersions': {
        const app = await this.app(environmentId, command.appId, command.preview);
        for (const version of command.versions) await this.requireBlob(version.artifactSha256);
        if (command.versions.length > 0)
          await this.db
            .insert(managementVersions)
            .values(command.versions.map((version) => ({ ...version, bundleId: version.bundleId ?? null, managementAppId: app.id, publishedAt: now })));
        return { added: command.versions.length };
      }
      case 'removePlatforms': {
        const app = await this.app(environmentId, command.appId, command.preview);
        if (command.platforms.length === 0) return { removed: 0 };
        const removed = (
          await this.db
            .delete(managementVersions)
            .where(and(eq(managementVersions.managementAppId, app.id), inArray(managementVersions.platform, command.platforms)))
            .returning({ id: managementVersions.id })
        ).length;
        return { removed };
      }
      case 'removeVersion': {
        const app = await this.app(environmentId, command.appId, command.preview);
        const removed = (
          await this.db
            .delete(managementVersions)
            .where(
              and(
                eq(managementVersions.managementAppId, app.id),
                eq(managementVersions.platform, command.platform),
                eq(managementVersions.versionKey, command.versionKey),
              ),
            )
            .returning({ id: managementVersions.id })
        ).length;
        return { removed };
      }
      case 'replaceTargets': {
        const app = await this.app(environmentId, command.appId, command.preview);
        await this.db.delete(managementTargets).where(eq(managementTargets.managementAppId, app.id));
        const rows = [
          ...command.userIds.map((userId) => ({ managementAppId: app.id, userId, groupId: null })),
          ...command.groupIds.map((groupId) => ({ managementAppId: app.id, userId: null, groupId })),
        ];
        if (rows.length > 0) await this.db.insert(managementTargets).values(rows);
        return { targets: rows.length };
      }
      case 'setWorkflowState': {
        const app = await this.app(environmentId, command.appId, command.preview);
        await this.db.update(managementApps).set({ workflowState: command.workflowState, updatedAt: now }).where(eq(managementApps.id, app.id));
        return { workflowState: command.workflowState };
      }
      case 'notify': {
        const app = await this.app(environmentId, command.appId, command.preview);
        const userIds = [...new Set(command.userIds)];
        const storePaths = new Map((command.storePaths ?? []).map((link) => [link.userId, link.path]));
        if (userIds.length > 0)
          await this.db
            .insert(storeNotifications)
            .values(
              userIds.map((directoryUserId) => ({
                environmentId,
                directoryUserId,
                managementAppId: app.id,
                publishJobId: command.jobId,
                message: command.message,
                storePath: storePaths.get(directoryUserId) ?? null,
                createdAt: now,
              })),
            );
        return { notified: userIds.length };
      }
      case 'removeManagementApps': {
        const removed = (
          await this.db
            .delete(managementApps)
            .where(and(eq(managementApps.environmentId, environmentId), eq(managementApps.appId, command.appId)))
            .returning({ id: managementApps.id })
        ).length;
        return { removed };
      }
      case 'publishIdentityServices': {
        // R37: the latest publish of any app defines the identity service for the whole environment.
        for (const service of command.services) {
          const values = { name: service.name, providerType: service.providerType, publishedByAppId: command.appId, publishedAt: now, publishJobId: command.jobId };
          // Updated, or else inserted, rather than an upsert: PostgreSQL's Drizzle cannot name the
          // index over lower(name) as a conflict target. The environment's one active job (R10)
          // keeps another transaction from writing the same name meanwhile.
          const [updated] = await this.db
            .update(publishedIdentityServices)
            .set(values)
            .where(and(eq(publishedIdentityServices.environmentId, environmentId), sql`lower(${publishedIdentityServices.name}) = lower(${service.name})`))
            .returning({ id: publishedIdentityServices.id });
          if (!updated) await this.db.insert(publishedIdentityServices).values({ environmentId, ...values });
        }
        return { published: command.services.length };
      }
      case 'publishAppServices': {
        const values = {
          appName: command.appName,
          identityServices: JSON.stringify(command.identityServices),
          integrationServices: JSON.stringify(command.integrationServices),
          publishedAt: now,
          activatedAt: null,
          publishJobId: command.jobId,
        };
        await this.db
          .insert(publishedAppServices)
          .values({ appId: command.appId, environmentId, ...values })
          .onConflictDoUpdate({ target: [publishedAppServices.appId, publishedAppServices.environmentId], set: values });
        return { published: true };
      }
      case 'putStoreAccess': {
        const values = {
          directoryUserId: command.directoryUserId,
          tokenSha256: command.tokenSha256,
          groupIds: JSON.stringify(command.groupIds),
          expiresAt: new Date(command.expiresAt),
        };
        await this.db
          .insert(storeAccess)
          .values({ invitationId: command.invitationId, environmentId, ...values, revoked: false })
          .onConflictDoUpdate({ target: [storeAccess.environmentId, storeAccess.invitationId], set: values });
        return { stored: true };
      }
      case 'revokeStoreAccess': {
        const revoked = (
          await this.db
            .update(storeAccess)
            .set({ revoked: true })
            .where(and(eq(storeAccess.environmentId, environmentId), eq(storeAccess.invitationId, command.invitationId)))
            .returning({ invitationId: storeAccess.invitationId })
        ).length;
        return { revoked: revoked > 0 };
      }
      case 'setAppCredentials': {
        const values = { appKey: command.appKey, secretSha256: command.secretSha256, updatedAt: now };
        await this.db
          .insert(appCredentials)
          .values({ appId: command.appId, environmentId, ...values })
          .onConflictDoUpdate({ target: [appCredentials.appId, appCredentials.environmentId], set: values });
        return { set: true };
      }
      case 'deployWebClient': {
        // R38: one live web client per app and environment; a new one replaces it.
        await this.requireBlob(command.artifactSha256);
        const values = { binaryId: command.binaryId, artifactSha256: command.artifactSha256, deployedAt: now, publishJobId: command.jobId };
        await this.db
          .insert(liveWebClients)
          .values({ appId: command.appId, environmentId, ...values })
          .onConflictDoUpdate({ target: [liveWebClients.appId, liveWebClients.environmentId], set: values });
        return { deployed: true };
      }
      case 'activate': {
        const activated = (
          await this.db
            .update(publishedAppServices)
            .set({ activatedAt: now })
            .where(and(eq(publishedAppServices.appId, command.appId), eq(publishedAppServices.environmentId, environmentId)))
            .returning({ appId: publishedAppServices.appId })
        ).length;
        return { activated: activated > 0 };
      }
      case 'unpublishServices':
        return { removedIdentityServices: await this.unpublishServices(environmentId, command.appId) };
    }
  }

  /** R39: the app's services and web client go; identity services stay while another app there uses them. */
  private async unpublishServices(environmentId: number, appId: number): Promise<string[]> {
    const byApp = and(eq(publishedAppServices.appId, appId), eq(publishedAppServices.environmentId, environmentId));
    const publication = (await this.db.select().from(publishedAppServices).where(byApp).limit(1))[0];
    const names = publication ? (JSON.parse(publication.identityServices) as string[]) : [];
    await this.db.delete(publishedAppServices).where(byApp);
    await this.db.delete(liveWebClients).where(and(eq(liveWebClients.appId, appId), eq(liveWebClients.environmentId, environmentId)));
    const stillUsed = new Set(
      (await this.db
        .select()
        .from(publishedAppServices)
        .where(eq(publishedAppServices.environmentId, environmentId))
        )
        .flatMap((other) => (JSON.parse(other.identityServices) as string[]).map((name) => name.toLowerCase())),
    );
    const removable = names.filter((name) => !stillUsed.has(name.toLowerCase()));
    for (const name of removable)
      await this.db
        .delete(publishedIdentityServices)
        .where(and(eq(publishedIdentityServices.environmentId, environmentId), sql`lower(${publishedIdentityServices.name}) = lower(${name})`));
    return removable;
  }
}

type CommandResults = { [T in CommandType]: CommandResult<T> };
