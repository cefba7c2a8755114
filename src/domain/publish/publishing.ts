import type { App, AppService } from '../apps.js';
import { CONSOLE_VERSION, type Environment, type EnvironmentService } from '../environments.js';
import { denial } from '../policy.js';
import type { Principal } from '../principal.js';
import { fail, notFound, ok, userError, type Result, type UserError } from '../result.js';
import { isFinal, type JobFilter, type JobStore, type NewJob, type PublishJob } from './jobs.js';
import type { PublishRunner } from './runner.js';

/** Foundry's exact words for a busy environment (R10). */
export const ENVIRONMENT_BUSY_MESSAGE = 'Server is busy processing another request. Please try after some time';
export const UNKNOWN_STATUS_WARNING = 'ENVIRONMENT_STATUS_UNKNOWN: the runtime did not answer; the publish may not succeed';

export interface PublishTarget {
  app: App;
  environment: Environment;
  warnings: string[];
}

/**
 * What every kind of publish shares: finding the app and environment, the version and status
 * checks made up front (R11, R12, R21), creating the job under the lock (R10), sync waiting,
 * cancel and queries.
 */
export class PublishService {
  constructor(
    readonly jobs: JobStore,
    readonly runner: PublishRunner,
    private readonly apps: AppService,
    private readonly environments: EnvironmentService,
  ) {}

  /** R11, R12 and the ids: everything about the app and environment that can be said up front. */
  async target(principal: Principal, appId: number | null, environmentId: number | null): Promise<Result<PublishTarget>> {
    const [app] = appId === null ? [null] : await this.apps.byIds(principal, [appId]);
    const [environment] = environmentId === null ? [null] : await this.environments.byIds(principal, [environmentId]);
    const problems: UserError[] = [];
    if (!app) problems.push(notFound('app', ['input', 'appId']));
    if (!environment) problems.push(notFound('environment', ['input', 'environmentId']));
    if (!app || !environment) return fail(...problems);
    const mismatched = (
      [
        ['integration', environment.integrationVersion],
        ['sync', environment.syncVersion],
        ['messaging', environment.messagingVersion],
      ] as const
    ).filter(([, version]) => version !== CONSOLE_VERSION);
    if (mismatched.length > 0)
      return fail(
        userError(
          'VERSION_MISMATCH',
          `Runtime components must match console version ${CONSOLE_VERSION}; ${mismatched
            .map(([component, version]) => `${component} is ${version}`)
            .join(', ')}`,
          ['input', 'environmentId'],
        ),
      );
    const [status] = await this.environments.statuses([environment.id]);
    // An early answer only: the partial unique index in `start` is what holds the lock (R10).
    if (status === 'BUSY') return fail(busy());
    return ok({ app, environment, warnings: status === 'UNKNOWN' ? [UNKNOWN_STATUS_WARNING] : [] });
  }

  /** Creates the job under the database lock and starts it; waits for the end when `sync`. */
  async start(principal: Principal, job: NewJob): Promise<Result<PublishJob>> {
    const created = await this.jobs.create(principal, job);
    if (!created) return fail(busy());
    await this.runner.submit(created);
    if (job.sync) await this.runner.whenFinished(created.id);
    return ok(await this.jobs.get(created.id) ?? created);
  }

  async list(principal: Principal, filter: JobFilter) {
    return this.jobs.list(principal, filter);
  }

  /**
   * R24, R7: MEMBERs cancel their own jobs, ADMINs anyone's. R50: an ADMIN may end a job whose
   * rollback waits for an unreachable runtime (`abandonRollback`).
   */
  async cancel(principal: Principal, jobId: number | null, options: { abandonRollback?: boolean | null } = {}): Promise<Result<PublishJob>> {
    const [job] = jobId === null ? [null] : await this.jobs.byIds(principal, [jobId]);
    if (!job) return fail(notFound('publish job', ['input', 'jobId']));
    const forbidden = denial(principal, 'cancelJob', job);
    if (forbidden) return fail(forbidden);
    if (isFinal(job.state)) return fail(userError('JOB_NOT_CANCELABLE', `The job is already ${job.state}`, ['input', 'jobId']));
    if (options.abandonRollback) {
      const mayNot = denial(principal, 'abandonRollback');
      if (mayNot) return fail(mayNot);
      if (!await this.runner.abandonRollback(job.id))
        return fail(userError('INVALID_INPUT', 'The job is not waiting for its runtime to roll back', ['input', 'abandonRollback']));
      await this.runner.whenFinished(job.id);
      return ok(await this.jobs.get(job.id) ?? job);
    }
    const canceled = await this.runner.cancel(job.id);
    if (!canceled) {
      const now = await this.jobs.get(job.id);
      return fail(userError('JOB_NOT_CANCELABLE', `The job is already ${now?.state ?? 'final'}`, ['input', 'jobId']));
    }
    return ok(canceled);
  }
}

export const busy = (): UserError => userError('ENVIRONMENT_BUSY', ENVIRONMENT_BUSY_MESSAGE, ['input', 'environmentId']);
