import { asc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { environments } from '../db/schema.js';
import type { Environment } from './environments.js';
import type { Principal } from './principal.js';
import { isFinal, type JobStore, type PublishJob } from './publish/jobs.js';
import type { Runtimes } from './runtimes.js';

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
  /** The name the runtime serves the app under, while its services are published there. */
  publishedAppName: string | null;
  /** Whether a web client is live there (its binary may have been deleted since). */
  webClientLive: boolean;
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
    private readonly runtimes: Runtimes,
  ) {}

  async forApps(principal: Principal, appIds: readonly number[]): Promise<AppEnvironmentStatus[][]> {
    const accountEnvironments = await this.db
      .select()
      .from(environments)
      .where(eq(environments.accountId, principal.accountId))
      .orderBy(asc(sql`lower(${environments.name})`), asc(environments.id));
    // Each environment's runtime is asked once; the embedded one once for all of them.
    const [management, held] = await Promise.all([this.runtimes.managementOf(accountEnvironments), this.runtimes.servicesOf(accountEnvironments)]);
    const pairKey = (appId: number, environmentId: number) => `${appId}:${environmentId}`;
    const native = new Set(
      accountEnvironments.flatMap((environment, index) =>
        (management[index] ?? []).filter((app) => app.versions.length > 0).map((app) => pairKey(app.appId, environment.id)),
      ),
    );
    const services = new Map(
      accountEnvironments.flatMap((environment, index) => (held[index]?.appServices ?? []).map((row) => [pairKey(row.appId, environment.id), row.appName] as const)),
    );
    const webClients = new Map(
      accountEnvironments.flatMap((environment, index) => (held[index]?.webClients ?? []).map((row) => [pairKey(row.appId, environment.id), row.binaryId] as const)),
    );
    const pairs = appIds.flatMap((appId) => accountEnvironments.map((environment) => ({ appId, environmentId: environment.id })));
    const { NATIVE_CLIENT: latestNative, SERVICES_AND_WEB: latestServices } = await this.jobs.latestOfKinds(pairs);
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
          publishedAppName: services.get(key) || null,
          webClientLive: webClients.has(key),
        };
      }),
    );
  }

  /**
   * Names of the environments where the app is published (native or services), a job of it is
   * under way, or identity services its publish wrote still serve other apps.
   */
  async publishedIn(principal: Principal, appId: number): Promise<string[]> {
    const [rows = []] = await this.forApps(principal, [appId]);
    const underWay = (job: PublishJob | null) => job !== null && !isFinal(job.state);
    const held = await this.runtimes.servicesOf(rows.map((row) => row.environment));
    const identityServices = new Set(
      rows.flatMap((row, index) => ((held[index]?.identityServices ?? []).some((service) => service.publishedByAppId === appId) ? [row.environment.id] : [])),
    );
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
