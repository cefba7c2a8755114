import type { Db } from '../db/client.js';
import type { Logger } from '../logger.js';
import { AccountService } from './accounts.js';
import { AppStatusService } from './app-status.js';
import { AppService } from './apps.js';
import { ClientCredentialsService } from './client-credentials.js';
import { SecretBox } from './secret-box.js';
import { StoreInvitationService } from './store-invitations.js';
import { BlobStore } from './binaries/blob-store.js';
import { ArchiveInspector, type InspectorLimits } from './binaries/inspector.js';
import { BlobCollector } from './binaries/blob-collection.js';
import { BinaryCatalogue, type BinaryLimits } from './binaries/catalogue.js';
import { StreamedUploads } from './binaries/uploads.js';
import { DirectoryService } from './directory.js';
import { EnvironmentService } from './environments.js';
import { DomainEvents } from './events.js';
import { ManagementReads, managementAppName } from './management.js';
import { ArtifactWorkers } from './publish/artifacts.js';
import { JobStore } from './publish/jobs.js';
import { isVersionRemoval } from './publish/job-records.js';
import { NativeRequests } from './publish/native-requests.js';
import { NativeStagePlans } from './publish/native-stages.js';
import { choosePlan, PublishRunner, type RunnerOptions } from './publish/runner.js';
import { PublishService } from './publish/publishing.js';
import { ServicesRequests } from './publish/services-requests.js';
import { ServicesStagePlans } from './publish/services-stages.js';
import { ArtifactSigning } from './publish/signing.js';
import { Runtimes, type RemoteRuntimeFactory } from './runtimes.js';
import type { RuntimeDb } from '../runtime/embedded/db.js';
import { RuntimeHost } from '../runtime/embedded/index.js';
import { join } from 'node:path';

export interface DomainOptions {
  /** DATA_DIR: this instance's own files. */
  dataDir: string;
  /** BLOB_DIR, shared by instances: blobs, the embedded runtime's files, the secret key; unset, all live in DATA_DIR. */
  blobDir?: string | undefined;
  limits: BinaryLimits;
  /** Limits of the worker threads that read uploaded files (R68); defaults unless a test needs others. */
  inspectorLimits?: InspectorLimits;
  /** Reaches a runtime server at a URL (R45): the HTTP client. */
  remoteRuntime: RemoteRuntimeFactory;
  /** RUNTIME_URL_ALLOW: host patterns environments may point at; empty for any. */
  runtimeUrlAllow?: readonly string[];
  runner: RunnerOptions;
  logger: Logger;
}

/** Every domain service of one server, over one database; nothing here is shared between servers. */
export function createDomain(db: Db, options: DomainOptions) {
  const events = new DomainEvents();
  const jobs = new JobStore(db);
  const store = new BlobStore(options.dataDir, options.blobDir === undefined ? {} : { blobDir: options.blobDir });
  // The embedded runtime keeps its tables in this database and its files apart from Shipyard's;
  // with BLOB_DIR, in it, so that every instance serves what any of them published (R58).
  const runtimeDir = options.blobDir === undefined ? join(options.dataDir, 'runtime') : join(options.blobDir, 'runtime');
  const runtimes = new Runtimes(
    new RuntimeHost(db as RuntimeDb, runtimeDir, { shared: options.blobDir !== undefined }),
    options.remoteRuntime,
    options.logger,
  );
  const apps = new AppService(db, store);
  const environments = new EnvironmentService(db, runtimes, events, jobs, options.runtimeUrlAllow ?? []);
  const directory = new DirectoryService(db);
  const inspector = new ArchiveInspector(options.inspectorLimits);
  const uploads = new StreamedUploads(db, store, options.limits);
  const binaries = new BinaryCatalogue(db, store, options.limits, inspector, uploads);
  const management = new ManagementReads(runtimes, environments, directory);
  binaries.setServedByCheck((principal, binaryId) => management.environmentsServing(principal, binaryId));
  directory.setStrandedCheck(async (principal, environmentId, target) => {
    const stranded = await management.activeAppsOnlyTargeting(principal, environmentId, target);
    const names = await apps.byIdsUnscoped(stranded.map((managementApp) => managementApp.appId));
    return stranded.map((managementApp, index) =>
      managementAppName(names[index]?.name ?? `app-${managementApp.appId}`, managementApp.preview),
    );
  });
  const runtimeOf = async (environmentId: number) => {
    const environment = await environments.byIdUnscoped(environmentId);
    return environment ? runtimes.of(environment) : null;
  };
  const runner = new PublishRunner(db, jobs, environments, runtimeOf, events, options.logger, options.runner);
  const publish = new PublishService(jobs, runner, apps, environments);
  // One pool per server, closed when it stops (server.ts).
  const artifactWorkers = new ArtifactWorkers();
  const signing = new ArtifactSigning(db);
  const box =
    options.blobDir === undefined
      ? new SecretBox(join(options.dataDir, 'secret-key'))
      : new SecretBox(join(options.blobDir, 'keys', 'secret-key'), join(options.dataDir, 'secret-key'));
  const storeInvitations = new StoreInvitationService(db, box, directory, environments, runtimes);
  const native = new NativeRequests(publish, binaries, management, directory);
  const nativeStages = new NativeStagePlans(
    binaries,
    management,
    store,
    signing,
    async (appId) => {
      const [app] = await apps.byIdsUnscoped([appId]);
      return { name: app?.name ?? `app-${appId}`, description: app?.description ?? null };
    },
    (environmentId, userIds) => storeInvitations.liveTokens(environmentId, userIds),
    artifactWorkers,
  );
  const credentials = new ClientCredentialsService(db, box);
  const services = new ServicesRequests(publish, apps, binaries, environments, runtimes, credentials);
  const servicesStages = new ServicesStagePlans(apps, binaries, environments, credentials);
  runner.register('NATIVE_CLIENT', 'PUBLISH', nativeStages.publishPlan());
  const removeVersion = nativeStages.removeVersionPlan();
  const unpublishNative = servicesStages.unpublishNativePlan();
  // Taking one version out (R31) and unpublishing the whole app (R39) are both native UNPUBLISH jobs.
  runner.register('NATIVE_CLIENT', 'UNPUBLISH', choosePlan((job) => (isVersionRemoval(job) ? removeVersion : unpublishNative)));
  runner.register('SERVICES_AND_WEB', 'PUBLISH', servicesStages.publishPlan());
  runner.register('SERVICES_AND_WEB', 'UNPUBLISH', servicesStages.unpublishServicesPlan());

  const appStatuses = new AppStatusService(db, jobs, runtimes);
  apps.setPublishedCheck((principal, appId) => appStatuses.publishedIn(principal, appId));

  return {
    events,
    artifactWorkers,
    accounts: new AccountService(db, events),
    apps,
    environments,
    directory,
    binaries,
    uploads,
    blobCollector: new BlobCollector(db, store),
    inspector,
    management,
    jobs,
    runner,
    publish,
    native,
    services,
    runtimes,
    signing,
    credentials,
    storeInvitations,
    appStatuses,
  };
}

export type Domain = ReturnType<typeof createDomain>;
