import { eq } from 'drizzle-orm';
import { createReadStream } from 'node:fs';
import type { CommandOf, CommandResult, CommandType } from '../commands.js';
import type { BlobSource, Runtime } from '../runtime.js';
import { appCredentials, liveWebClients, managementApps, publishedAppServices, publishedIdentityServices, runtimeRestorePoints, storeAccess, storeNotifications } from '../schema.js';
import type { ManagementApp, RuntimeInfo, ServicesState, StoreNotification } from '../types.js';
import { RuntimeBlobs } from './blobs.js';
import { RuntimeCommands } from './commands.js';
import type { RuntimeDb } from './db.js';
import { RuntimeReads } from './reads.js';

/** The versions this runtime's components report (R47); the console publishes only to its own. */
export const RUNTIME_COMPONENT_VERSION = '9.5.0';

export const runtimeInfo = (managementAvailable: boolean): RuntimeInfo => ({
  runtime: 'shipyard-runtime',
  apiVersion: 1,
  versions: { integration: RUNTIME_COMPONENT_VERSION, sync: RUNTIME_COMPONENT_VERSION, messaging: RUNTIME_COMPONENT_VERSION },
  managementAvailable,
});

/**
 * The runtime's state over one database and one blob directory, for any number of environments:
 * Shipyard's embedded runtime (one per environment without a URL) and a runtime server (one
 * environment, 0) are both this.
 */
export class RuntimeHost {
  readonly reads: RuntimeReads;
  readonly commands: RuntimeCommands;
  readonly blobs: RuntimeBlobs;

  /** `shared`: other hosts over the same database use `blobDir` too (Shipyard's instances sharing BLOB_DIR). */
  constructor(
    private readonly db: RuntimeDb,
    blobDir: string,
    { shared = false }: { shared?: boolean } = {},
  ) {
    this.reads = new RuntimeReads(db);
    this.commands = new RuntimeCommands(db);
    this.blobs = new RuntimeBlobs(db, blobDir, shared);
  }

  /** Files are swept after every change that may have released one. */
  async apply<T extends CommandType>(environmentId: number, key: string, command: CommandOf<T>): Promise<CommandResult<T>> {
    const result = await this.commands.apply(environmentId, key, command);
    if (['restore', 'discardRestorePoint', 'removeVersion', 'removePlatforms', 'removeManagementApps', 'unpublishServices', 'deployWebClient'].includes(command.type))
      await this.blobs.sweep();
    return result;
  }

  /** Everything of an environment goes, as when its environment is deleted (R13). */
  async forget(environmentId: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.delete(managementApps).where(eq(managementApps.environmentId, environmentId));
      await tx.delete(storeNotifications).where(eq(storeNotifications.environmentId, environmentId));
      await tx.delete(publishedIdentityServices).where(eq(publishedIdentityServices.environmentId, environmentId));
      await tx.delete(publishedAppServices).where(eq(publishedAppServices.environmentId, environmentId));
      await tx.delete(liveWebClients).where(eq(liveWebClients.environmentId, environmentId));
      await tx.delete(appCredentials).where(eq(appCredentials.environmentId, environmentId));
      await tx.delete(storeAccess).where(eq(storeAccess.environmentId, environmentId));
      await tx.delete(runtimeRestorePoints).where(eq(runtimeRestorePoints.environmentId, environmentId));
    });
    await this.blobs.sweep();
  }

  /** One environment of this host, behind the Runtime interface. */
  environment(environmentId: number, managementAvailable: () => boolean): Runtime {
    return new HostedRuntime(this, environmentId, managementAvailable);
  }
}

/** The embedded runtime of one environment: the same calls as a remote one, in process. */
class HostedRuntime implements Runtime {
  readonly location = 'embedded';

  constructor(
    private readonly host: RuntimeHost,
    private readonly environmentId: number,
    private readonly managementAvailable: () => boolean,
  ) {}

  async info(): Promise<RuntimeInfo> {
    return runtimeInfo(this.managementAvailable());
  }

  async management(): Promise<ManagementApp[]> {
    return (await this.host.reads.managementOf([this.environmentId]))[0] ?? [];
  }

  async services(): Promise<ServicesState> {
    return (await this.host.reads.servicesOf([this.environmentId]))[0] ?? { identityServices: [], appServices: [], webClients: [] };
  }

  async notifications(directoryUserIds: readonly number[]): Promise<StoreNotification[]> {
    return this.host.reads.notificationsOf([this.environmentId], directoryUserIds);
  }

  async hasBlob(sha256: string): Promise<boolean> {
    return this.host.blobs.has(sha256);
  }

  async putBlob(blob: BlobSource, restorePoint: string): Promise<void> {
    await this.host.blobs.put(blob.sha256, blob.open(), restorePoint);
  }

  async run<T extends CommandType>(key: string, command: CommandOf<T>): Promise<CommandResult<T>> {
    return this.host.apply(this.environmentId, key, command);
  }
}

/** A file on disk as a blob source. */
export const fileBlob = (path: string, sha256: string, sizeBytes: number): BlobSource => ({
  sha256,
  sizeBytes,
  open: () => createReadStream(path, { highWaterMark: 1024 * 1024 }),
});
