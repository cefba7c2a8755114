import { asc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { environments } from '../db/schema.js';
import type { Environment } from './environments.js';
import type { ManagementService } from './management.js';
import type { Principal } from './principal.js';
import { isFinal, type JobStore, type PublishJob } from './publish/jobs.js';
import type { ServicesRuntime } from './services-runtime.js';

export type PublishStatus = 'PUBLISHED' | 'NOT_PUBLISHED';

/** Where one app stands in one environment: the row a dashboard shows. */
export interface AppEnvironmentStatus {
  appId: number;
  environment: Environment;
  /** PUBLISHED while the environment's Management runtime holds at least one version of the app. */
  nativeClient: PublishStatus;
  /** PUBLISHED while the environment serves the app's services. */
  servicesAndWeb: PublishStatus;
  latestNativeJob: PublishJob | null;
  latestServicesJob: PublishJob | null;
  webClientBinaryId: number | null;
}

const status = (published: boolean): PublishStatus => (published ? 'PUBLISHED' : 'NOT_PUBLISHED');

/**
 * The dashboard's `App.environmentStatuses`, for many apps at once in a fixed number of
 * statements, however many apps and environments there are.
 */
export class AppStatusService {
  constructor(
    private readonly db: Db,
    private readonly jobs: JobStore,
    private readonly management: ManagementService,
    private readonly runtime: ServicesRuntime,
  ) {}

  forApps(principal: Principal, appIds: readonly number[]): AppEnvironmentStatus[][] {
    const accountEnvironments = this.db
      .select()
      .from(environments)
      .where(eq(environments.accountId, principal.accountId))
      .orderBy(asc(sql`lower(${environments.name})`), asc(environments.id))
      .all();
    const native = this.management.publishedPairs(appIds);
    const services = new Set(this.runtime.appServicesOfApps(appIds).map((row) => `${row.appId}:${row.environmentId}`));
    const webClients = new Map(this.runtime.webClientsOfApps(appIds).map((row) => [`${row.appId}:${row.environmentId}`, row.binaryId]));
    const pairs = appIds.flatMap((appId) => accountEnvironments.map((environment) => ({ appId, environmentId: environment.id })));
    const latestNative = this.jobs.latestOfKind('NATIVE_CLIENT', pairs);
    const latestServices = this.jobs.latestOfKind('SERVICES_AND_WEB', pairs);
    return appIds.map((appId, appIndex) =>
      accountEnvironments.map((environment, environmentIndex) => {
        const key = `${appId}:${environment.id}`;
        const index = appIndex * accountEnvironments.length + environmentIndex;
        return {
          appId,
          environment,
          nativeClient: status(native.has(key)),
          servicesAndWeb: status(services.has(key)),
          latestNativeJob: latestNative[index] ?? null,
          latestServicesJob: latestServices[index] ?? null,
          webClientBinaryId: webClients.get(key) ?? null,
        };
      }),
    );
  }

  /**
   * Names of the environments where the app is published (native or services), a job of it is
   * under way, or identity services its publish wrote still serve other apps.
   */
  publishedIn(principal: Principal, appId: number): string[] {
    const [rows = []] = this.forApps(principal, [appId]);
    const underWay = (job: PublishJob | null) => job !== null && !isFinal(job.state);
    const identityServices = this.runtime.environmentsWithIdentityServicesBy(appId);
    return rows
      .filter(
        (row) =>
          row.nativeClient === 'PUBLISHED' ||
          row.servicesAndWeb === 'PUBLISHED' ||
          row.webClientBinaryId !== null ||
          underWay(row.latestNativeJob) ||
          underWay(row.latestServicesJob) ||
          identityServices.has(row.environment.id),
      )
      .map((row) => (identityServices.has(row.environment.id) && row.servicesAndWeb !== 'PUBLISHED' ? `${row.environment.name} (identity services other apps use)` : row.environment.name));
  }
}
