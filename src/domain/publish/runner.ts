import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '../../db/client.js';
import type { RestoreScope } from '../../runtime/commands.js';
import { RuntimeRefusedError, RuntimeUnreachableError } from '../../runtime/errors.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { DomainEvents } from '../events.js';
import type { EnvironmentService } from '../environments.js';
import type { Logger } from '../../logger.js';
import { ACTIVE_STATES, isFinal, type JobStore, type PublishJob, type PublishStage, type StageKey } from './jobs.js';

/** A stage's result: what it did, or why it did not apply (R22). */
export type StageOutcome = { message: string } | { skipped: string };

/** Why a publish job failed, each with when it occurs; the schema's PublishErrorCode. */
export const publishErrorCodes = {
  NOT_FOUND: 'Something the job needs (a binary, the app, a version to remove) was deleted after the job was accepted.',
  BINARY_CORRUPT: 'A stored binary no longer matches the SHA-256 recorded when it was uploaded.',
  RUNTIME_UNREACHABLE: "The environment's runtime did not answer within the stage's deadline.",
  RUNTIME_FAULT: 'The runtime answered with an error while applying a stage.',
  INTERRUPTED: 'The server stopped while the job ran; every change was rolled back when it started again.',
  ROLLBACK_ABANDONED:
    'The runtime could not be reached to roll the job back and an ADMIN ended the job without it; the runtime may hold a partial publish.',
  INTERNAL: 'An unexpected error in a stage; every change was rolled back and the cause is in the server log.',
} as const;

export type PublishErrorCode = keyof typeof publishErrorCodes;

/** A failure the job reports as its error (R23): a code, a message and the stage. */
export class StageFailure extends Error {
  override name = 'StageFailure';
  constructor(
    readonly code: PublishErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface StageContext {
  job: PublishJob;
  /** The environment's runtime, embedded or remote (R45). */
  runtime: Runtime;
  /** The restore point the runtime keeps for this job; files sent for the job are held by it. */
  restorePoint: string;
  /** The idempotency key of one change of this stage (R49): job, stage, step. */
  key(step: string): string;
  /** Aborted when the job is canceled or the server stops: long work checks it. */
  signal: AbortSignal;
  /** Values one stage hands to a later one (artifacts, resolved rows). */
  carry: Map<string, unknown>;
}

export interface StageDefinition {
  key: StageKey;
  run(context: StageContext): Promise<StageOutcome>;
}

/** How one kind of job runs: its stages, and what of the runtime they may change. */
export interface JobPlan {
  stages(job: PublishJob): StageDefinition[] | Promise<StageDefinition[]>;
  /** What the runtime keeps in the job's restore point before its first change (R50). */
  restoreScope(job: PublishJob): RestoreScope;
}

export interface RunnerOptions {
  stageDelayMs: number;
  /** First wait before a rollback is tried again while the runtime does not answer (R50); it doubles up to 30 s. */
  rollbackRetryMs?: number;
  maxConcurrentJobs: number;
  /**
   * Test-only: a message makes that stage fail, to show that a job is all-or-nothing. Asked
   * before the stage runs and again after it has written its changes.
   */
  fault?: (stage: StageKey, job: PublishJob, moment: 'before' | 'after') => string | null;
}

class Canceled extends Error {}
class Stopped extends Error {}

const planKey = (job: Pick<PublishJob, 'kind' | 'action'>) => `${job.kind}:${job.action}`;

/** The job's name at the runtime: unique even when a runtime outlives a Shipyard database. */
const restorePointOf = (job: PublishJob): string => `job-${job.id}-${job.createdAt.getTime()}`;

/** What `publish_jobs.rollback` holds while a job is active: where its restore point is. */
interface RollbackRecord {
  restorePoint: string;
}

const rollbackRecord = (job: PublishJob): RollbackRecord | null => {
  if (!job.rollback) return null;
  const parsed = JSON.parse(job.rollback) as Partial<RollbackRecord>;
  return typeof parsed.restorePoint === 'string' ? { restorePoint: parsed.restorePoint } : null;
};

export const ROLLBACK_ABANDONED_WARNING = 'ROLLBACK_ABANDONED: the job ended without its rollback; the runtime may hold a partial publish';

/** What a runtime's failure means for the job (R51). */
function asStageFailure(error: unknown): StageFailure | unknown {
  if (error instanceof RuntimeUnreachableError) return new StageFailure('RUNTIME_UNREACHABLE', error.message);
  if (error instanceof RuntimeRefusedError && error.code === 'SHA256_MISMATCH')
    return new StageFailure('BINARY_CORRUPT', `A stored binary does not match its SHA-256: ${error.message}`);
  if (error instanceof RuntimeRefusedError) return new StageFailure('RUNTIME_FAULT', error.message);
  return error;
}

/**
 * Runs publish jobs: stages in order, each change persisted then announced (R22), all-or-nothing
 * (R23), cancelable (R24), and recovered after a restart (R25). Different environments run in
 * parallel, up to `maxConcurrentJobs`; the rest wait QUEUED.
 */
export class PublishRunner {
  private readonly plans = new Map<string, JobPlan>();
  private readonly queue: number[] = [];
  private readonly running = new Map<number, AbortController>();
  /** Each running job's whole run, its last runtime calls included, for shutdown to wait on. */
  private readonly runs = new Map<number, Promise<void>>();
  private readonly finished = new Map<number, { promise: Promise<void>; resolve: () => void }>();
  /** Rollbacks waiting for their runtime (R50), by job id: aborted to give up. */
  private readonly rollbacks = new Map<number, { controller: AbortController; abandoned: boolean; done: Promise<void> }>();
  private stopping = false;

  constructor(
    private readonly db: Db,
    private readonly jobs: JobStore,
    private readonly environments: EnvironmentService,
    private readonly runtimeOf: (environmentId: number) => Promise<Runtime | null>,
    private readonly events: DomainEvents,
    private readonly logger: Logger,
    private readonly options: RunnerOptions,
  ) {}

  register(kind: PublishJob['kind'], action: PublishJob['action'], plan: JobPlan): void {
    this.plans.set(`${kind}:${action}`, plan);
  }

  /** Announces a job's persisted change to subscribers, with the job as it stands now. */
  async announce(job: PublishJob): Promise<void> {
    const snapshot = await this.jobs.snapshot(job.id);
    if (snapshot) this.events.publish({ type: 'publishJobUpdated', accountId: job.accountId, ...snapshot });
  }

  /** A new job: announced, the environment turns BUSY, and it runs when a slot is free. */
  async submit(job: PublishJob): Promise<void> {
    await this.announce(job);
    await this.environments.announceBusy(job, true);
    this.enqueue(job.id);
  }

  /** Resolves once the job is final (sync publishing waits on this). */
  async whenFinished(jobId: number): Promise<void> {
    const job = await this.jobs.get(jobId);
    if (!job || isFinal(job.state)) return Promise.resolve();
    return this.finishedEntry(jobId).promise;
  }

  /**
   * R24: a QUEUED job is canceled at once; a RUNNING one turns CANCELING and stops at its next
   * safe point. Answers the job as it now stands, or null when it was already final.
   */
  async cancel(jobId: number): Promise<PublishJob | null> {
    const now = new Date();
    const canceledAtOnce = await this.db.transaction(async () => {
      if (!await this.jobs.transition(jobId, ['QUEUED'], { state: 'CANCELED', finishedAt: now })) return false;
      await this.jobs.closeOpenStages(jobId, { state: 'CANCELED', message: 'Canceled before it started' }, { state: 'CANCELED', message: 'Canceled before it started' }, now);
      return true;
    });
    if (canceledAtOnce) {
      const index = this.queue.indexOf(jobId);
      if (index >= 0) this.queue.splice(index, 1);
      await this.complete(jobId);
      return await this.jobs.get(jobId) ?? null;
    }
    if (await this.jobs.transition(jobId, ['RUNNING'], { state: 'CANCELING' })) {
      const job = await this.jobs.get(jobId);
      if (job) await this.announce(job);
      this.running.get(jobId)?.abort(new Canceled());
      return job ?? null;
    }
    const job = await this.jobs.get(jobId);
    return job && !isFinal(job.state) ? job : null;
  }

  /**
   * R25, at start: a job that was RUNNING or CANCELING when the process died is rolled back and
   * ends FAILED (INTERRUPTED) or CANCELED; QUEUED jobs run.
   */
  async recover(): Promise<void> {
    for (const job of await this.jobs.inStates(['RUNNING', 'CANCELING']))
      void this.rollBack(job, job.state === 'CANCELING' ? 'canceled' : 'interrupted').catch((error: unknown) =>
        this.logger.error({ err: error, jobId: job.id }, 'recovering a job failed'),
      );
    for (const job of await this.jobs.inStates(['QUEUED'])) this.enqueue(job.id);
  }

  /**
   * R50: an ADMIN ends a job whose rollback waits for an unreachable runtime: FAILED with
   * ROLLBACK_ABANDONED. Answers false when no rollback of that job is waiting.
   */
  abandonRollback(jobId: number): boolean {
    const waiting = this.rollbacks.get(jobId);
    if (!waiting) return false;
    waiting.abandoned = true;
    waiting.controller.abort();
    return true;
  }

  /** Whether the job is rolling back and waiting for its runtime. */
  isRollingBack(jobId: number): boolean {
    return this.rollbacks.has(jobId);
  }

  /** R4: running jobs stop at their next safe point, are rolled back and end FAILED (INTERRUPTED). */
  async shutdown(): Promise<void> {
    this.stopping = true;
    this.queue.length = 0;
    const waiting = [...this.runs.values()];
    for (const controller of this.running.values()) controller.abort(new Stopped());
    // Rollbacks still waiting for their runtime stay active and are resumed at the next start (R25).
    for (const rollback of this.rollbacks.values()) rollback.controller.abort();
    await Promise.all([...waiting, ...[...this.rollbacks.values()].map((rollback) => rollback.done)]);
  }

  get activeCount(): number {
    return this.running.size;
  }

  private finishedEntry(jobId: number) {
    let entry = this.finished.get(jobId);
    if (!entry) {
      let resolve = () => {};
      const promise = new Promise<void>((done) => (resolve = done));
      entry = { promise, resolve };
      this.finished.set(jobId, entry);
    }
    return entry;
  }

  private async complete(jobId: number): Promise<void> {
    const job = await this.jobs.get(jobId);
    if (job) {
      await this.announce(job);
      await this.environments.announceBusy(job, false);
    }
    this.finished.get(jobId)?.resolve();
    this.finished.delete(jobId);
  }

  private enqueue(jobId: number): void {
    if (this.stopping) return;
    this.queue.push(jobId);
    this.pump();
  }

  private pump(): void {
    while (!this.stopping && this.running.size < this.options.maxConcurrentJobs && this.queue.length > 0) {
      const jobId = this.queue.shift();
      if (jobId === undefined) break;
      const controller = new AbortController();
      this.running.set(jobId, controller);
      const run = this.run(jobId, controller.signal)
        .catch((error: unknown) => this.logger.error({ err: error, jobId }, 'publish job runner failed'))
        .finally(() => {
          this.running.delete(jobId);
          this.runs.delete(jobId);
          this.pump();
        });
      this.runs.set(jobId, run);
    }
  }

  private async run(jobId: number, signal: AbortSignal): Promise<void> {
    const queued = await this.jobs.get(jobId);
    if (!queued || queued.state !== 'QUEUED') return;
    const plan = this.plans.get(planKey(queued));
    if (!plan) throw new Error(`no plan for ${planKey(queued)} jobs`);

    const restorePoint = restorePointOf(queued);
    const started = await this.jobs.transition(jobId, ['QUEUED'], { state: 'RUNNING', startedAt: new Date() });
    if (!started) return;
    let job = await this.jobs.get(jobId) ?? queued;
    await this.announce(job);

    const runtime = await this.runtimeOf(job.environmentId);
    const stages = await plan.stages(job);
    let position = 0;
    try {
      if (!runtime) throw new StageFailure('NOT_FOUND', 'The environment is gone');
      const context: StageContext = {
        job,
        runtime,
        restorePoint,
        signal,
        carry: new Map(),
        key: (step) => `${restorePoint}:${stages[position]?.key ?? 'JOB'}:${step}`,
      };
      for (const stage of stages) {
        if (signal.aborted) throw signal.reason;
        await this.jobs.setStage(jobId, position, { state: 'RUNNING', startedAt: new Date() });
        await this.announce(job);
        if (this.options.stageDelayMs > 0) await sleep(this.options.stageDelayMs, undefined, { signal }).catch(() => { throw signal.reason; });
        if (position === 1) {
          // VALIDATE changed nothing. The job records where its restore point is before asking for
          // it, so that a crash at any moment leaves a job that knows what to restore (R25, R50).
          await this.jobs.record(jobId, { rollback: JSON.stringify({ restorePoint } satisfies RollbackRecord) });
          job = await this.jobs.get(jobId) ?? job;
          await runtime.run(`${restorePoint}:restore-point`, { type: 'createRestorePoint', restorePoint, scope: plan.restoreScope(job) });
        }
        const fault = this.options.fault?.(stage.key, job, 'before');
        if (fault) throw new StageFailure('RUNTIME_FAULT', fault);
        const outcome = await stage.run(context);
        const lateFault = this.options.fault?.(stage.key, job, 'after');
        if (lateFault) throw new StageFailure('RUNTIME_FAULT', lateFault);
        if (signal.aborted) throw signal.reason;
        await this.jobs.setStage(jobId, position, {
          state: 'skipped' in outcome ? 'SKIPPED' : 'SUCCEEDED',
          finishedAt: new Date(),
          message: 'skipped' in outcome ? outcome.skipped : outcome.message,
        });
        job = await this.jobs.get(jobId) ?? job;
        await this.announce(job);
        position += 1;
        // Each stage in a turn of the event loop of its own: stages that do no I/O would otherwise
        // run a whole job, and twenty jobs, without letting anything else in.
        await nextTurn();
      }
      // The job ends SUCCEEDED before the restore point goes: a crash in between must not roll back a finished publish.
      const succeeded = await this.jobs.transition(jobId, ['RUNNING'], { state: 'SUCCEEDED', finishedAt: new Date(), rollback: null });
      if (!succeeded) {
        // Canceled after the last stage finished: the cancel loses, the publish stands.
        await this.jobs.transition(jobId, ['CANCELING'], { state: 'SUCCEEDED', finishedAt: new Date(), rollback: null });
      }
      await this.complete(jobId);
      await runtime
        .run(`${restorePoint}:discard`, { type: 'discardRestorePoint', restorePoint })
        .catch((error: unknown) => this.logger.warn({ err: error, jobId }, 'the restore point of a finished job was not discarded'));
    } catch (caught) {
      const error = asStageFailure(caught);
      const current = await this.jobs.get(jobId) ?? job;
      if (error instanceof StageFailure && error.code === 'RUNTIME_UNREACHABLE') this.logger.warn({ jobId, stage: stages[position]?.key }, error.message);
      const reason = error instanceof Canceled || current.state === 'CANCELING' ? 'canceled' : error instanceof Stopped ? 'interrupted' : error;
      if (!(reason === 'canceled' || reason === 'interrupted' || reason instanceof StageFailure))
        this.logger.error({ err: caught, jobId, stage: stages[position]?.key }, 'publish stage failed unexpectedly');
      await this.rollBack(current, reason, stages[position]?.key);
    }
  }

  /**
   * Undoes the job's runtime changes through its restore point, then ends it (R23, R50). While
   * the runtime cannot be reached the restore is tried again with backoff: the job stays active
   * (its environment BUSY) with a stage message saying so, until it lands or an ADMIN abandons it.
   */
  private async rollBack(job: PublishJob, reason: 'canceled' | 'interrupted' | unknown, stage?: StageKey): Promise<void> {
    const record = rollbackRecord(job);
    const runtime = await this.runtimeOf(job.environmentId);
    let abandoned = false;
    if (record && runtime) {
      const controller = new AbortController();
      let settle = () => {};
      const entry = { controller, abandoned: false, done: new Promise<void>((resolve) => (settle = resolve)) };
      this.rollbacks.set(job.id, entry);
      try {
        let delay = this.options.rollbackRetryMs ?? 500;
        for (;;) {
          try {
            await runtime.run(`${record.restorePoint}:restore`, { type: 'restore', restorePoint: record.restorePoint });
            break;
          } catch (error) {
            if (!(error instanceof RuntimeUnreachableError)) {
              this.logger.error({ err: error, jobId: job.id }, 'the runtime refused to restore');
              break;
            }
            if (entry.abandoned) break;
            if (controller.signal.aborted) return; // stopping: the next start resumes the rollback
            const open = await this.runningStage(job.id);
            if (open) {
              await this.jobs.setStage(job.id, open.position, { message: `Rolling back: the runtime at ${runtime.location} does not answer; retrying` });
              await this.announce(await this.jobs.get(job.id) ?? job);
            }
            await sleep(delay, undefined, { signal: controller.signal }).catch(() => undefined);
            if (entry.abandoned) break;
            if (controller.signal.aborted) return;
            delay = Math.min(delay * 2, 30_000);
          }
        }
        abandoned = entry.abandoned;
      } finally {
        this.rollbacks.delete(job.id);
        settle();
      }
    }
    await this.finish(job, abandoned ? new StageFailure('ROLLBACK_ABANDONED', 'Ended by an ADMIN without its rollback; the runtime may hold a partial publish') : reason, stage);
  }

  /** Ends a rolled-back job: FAILED with its error, or CANCELED. */
  private async finish(job: PublishJob, reason: 'canceled' | 'interrupted' | unknown, stage?: StageKey): Promise<void> {
    const now = new Date();
    await this.db.transaction(async () => {
      if (reason === 'canceled') {
        const canceled = { state: 'CANCELED', message: 'Canceled; every change was rolled back' } as const;
        await this.jobs.closeOpenStages(job.id, canceled, canceled, now);
        await this.jobs.transition(job.id, ACTIVE_STATES, { state: 'CANCELED', finishedAt: now, rollback: null });
        return;
      }
      const failure =
        reason === 'interrupted'
          ? new StageFailure('INTERRUPTED', 'The server stopped while the job ran; every change was rolled back')
          : reason instanceof StageFailure
            ? reason
            : new StageFailure('INTERNAL', 'The stage failed unexpectedly; every change was rolled back');
      const failedStage = stage ?? (await this.runningStage(job.id))?.key;
      const warnings =
        failure.code === 'ROLLBACK_ABANDONED' ? { warnings: JSON.stringify([...(JSON.parse(job.warnings) as string[]), ROLLBACK_ABANDONED_WARNING]) } : {};
      await this.jobs.closeOpenStages(job.id, { state: 'FAILED', message: failure.message }, { state: 'SKIPPED', message: `Not run: ${failure.message}` }, now);
      await this.jobs.transition(job.id, ACTIVE_STATES, {
        state: 'FAILED',
        finishedAt: now,
        errorCode: failure.code,
        errorMessage: failure.message,
        errorStage: failedStage ?? null,
        rollback: null,
        ...warnings,
      });
    });
    await this.complete(job.id);
  }

  private async runningStage(jobId: number): Promise<PublishStage | undefined> {
    return (await this.jobs.stagesOf([jobId]))[0]?.find((stage) => stage.state === 'RUNNING');
  }
}

/** One kind and action of job that runs one of several plans, as its request says. */
export function choosePlan(pick: (job: PublishJob) => JobPlan): JobPlan {
  return {
    stages: (job) => pick(job).stages(job),
    restoreScope: (job) => pick(job).restoreScope(job),
  };
}
