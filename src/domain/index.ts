import type { Db } from '../db/client.js';
import type { Logger } from '../logger.js';
import { AccountService } from './accounts.js';
import { AppStatusService } from './app-status.js';
import { AppService } from './apps.js';
import { BlobStore } from './binaries/blob-store.js';
import { BinaryService, type BinaryLimits } from './binaries/service.js';
import { DirectoryService } from './directory.js';
import { EnvironmentService } from './environments.js';
import { DomainEvents } from './events.js';
import { ManagementService } from './management.js';
import { JobStore } from './publish/jobs.js';
import { isVersionRemoval, managementAppName, NativePublishing } from './publish/native.js';
import { choosePlan, PublishRunner, type RunnerOptions } from './publish/runner.js';
import { PublishService } from './publish/service.js';
import { ServicesPublishing } from './publish/services.js';
import { ServicesRuntime } from './services-runtime.js';
import type { RuntimeProbe } from './runtime-probe.js';

export interface DomainOptions {
  /** Where blobs live (DATA_DIR). */
  dataDir: string;
  limits: BinaryLimits;
  probe: RuntimeProbe;
  runner: RunnerOptions;
  logger: Logger;
}

/** Every domain service of one server, over one database; nothing here is shared between servers. */
export function createDomain(db: Db, options: DomainOptions) {
  const events = new DomainEvents();
  const jobs = new JobStore(db);
  const store = new BlobStore(options.dataDir);
  const apps = new AppService(db, store);
  const environments = new EnvironmentService(db, options.probe, events, jobs);
  const directory = new DirectoryService(db);
  const binaries = new BinaryService(db, store, options.limits);
  const management = new ManagementService(db);
  binaries.setServedByCheck((binaryId) => management.environmentsServing(binaryId));
  directory.setStrandedCheck((principal) =>
    management.activeAppsOnlyTargeting(principal).map((managementApp) => {
      const [app] = apps.byIdsUnscoped([managementApp.appId]);
      return managementAppName(app?.name ?? `app-${managementApp.appId}`, managementApp.preview);
    }),
  );
  const runner = new PublishRunner(db, jobs, environments, events, options.logger, options.runner);
  const publish = new PublishService(jobs, runner, apps, environments, options.probe);
  const native = new NativePublishing(db, publish, binaries, management, directory, environments, store, (appId) => {
    const [app] = apps.byIdsUnscoped([appId]);
    return { name: app?.name ?? `app-${appId}`, description: app?.description ?? null };
  });
  const servicesRuntime = new ServicesRuntime(db);
  const services = new ServicesPublishing(db, publish, apps, binaries, environments, servicesRuntime, management);
  runner.register('NATIVE_CLIENT', 'PUBLISH', native.publishPlan());
  const removeVersion = native.removeVersionPlan();
  const unpublishNative = services.unpublishNativePlan();
  // Taking one version out (R31) and unpublishing the whole app (R39) are both native UNPUBLISH jobs.
  runner.register('NATIVE_CLIENT', 'UNPUBLISH', choosePlan((job) => (isVersionRemoval(job) ? removeVersion : unpublishNative)));
  runner.register('SERVICES_AND_WEB', 'PUBLISH', services.publishPlan());
  runner.register('SERVICES_AND_WEB', 'UNPUBLISH', services.unpublishServicesPlan());

  const appStatuses = new AppStatusService(db, jobs, management, servicesRuntime);
  apps.setPublishedCheck((principal, appId) => appStatuses.publishedIn(principal, appId));

  return {
    events,
    accounts: new AccountService(db, events),
    apps,
    environments,
    directory,
    binaries,
    management,
    jobs,
    runner,
    publish,
    native,
    services,
    servicesRuntime,
    appStatuses,
  };
}

export type Domain = ReturnType<typeof createDomain>;
