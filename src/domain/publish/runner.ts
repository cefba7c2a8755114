import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '../../db/client.js';
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
  /** Aborted when the job is canceled or the server stops: long work checks it. */
  signal: AbortSignal;
  /** Values one stage hands to a later one (artifacts, resolved rows). */
  carry: Map<string, unknown>;
}

export interface StageDefinition {
  key: StageKey;
  run(context: StageContext): Promise<StageOutcome>;
}

/** How one kind of job runs: its stages, and how to undo what they changed in the runtime. */
export interface JobPlan {
  stages(job: PublishJob): StageDefinition[];
  /** The runtime state the job may change, taken before it starts (stored with the job). */
  snapshot(job: PublishJob): unknown;
  /** Puts the runtime back as snapshotted, inside the caller's transaction. */
  restore(job: PublishJob, snapshot: unknown): void;
  /** After a restore committed: removes files nothing refers to any more. */
  afterRestore?(job: PublishJob): void;
}

export interface RunnerOptions {
  stageDelayMs: number;
  maxConcurrentJobs: number;
  /** Test-only: a message makes that stage fail, to show that a job is all-or-nothing. */
  fault?: (stage: StageKey, job: PublishJob) => string | null;
}

class Canceled extends Error {}
class Stopped extends Error {}

const planKey = (job: Pick<PublishJob, 'kind' | 'action'>) => `${job.kind}:${job.action}`;

/**
 * Runs publish jobs: stages in order, each change persisted then announced (R22), all-or-nothing
 * (R23), cancelable (R24), and recovered after a restart (R25). Different environments run in
 * parallel, up to `maxConcurrentJobs`; the rest wait QUEUED.
 */
export class PublishRunner {
  private readonly plans = new Map<string, JobPlan>();
  private readonly queue: number[] = [];
  private readonly running = new Map<number, AbortController>();
  private readonly finished = new Map<number, { promise: Promise<void>; resolve: () => void }>();
  private stopping = false;

  constructor(
    private readonly db: Db,
    private readonly jobs: JobStore,
    private readonly environments: EnvironmentService,
    private readonly events: DomainEvents,
    private readonly logger: Logger,
    private readonly options: RunnerOptions,
  ) {}

  register(kind: PublishJob['kind'], action: PublishJob['action'], plan: JobPlan): void {
    this.plans.set(`${kind}:${action}`, plan);
  }

  /** Announces a job's persisted change to subscribers, with the job as it stands now. */
  announce(job: PublishJob): void {
    const snapshot = this.jobs.snapshot(job.id);
    if (snapshot) this.events.publish({ type: 'publishJobUpdated', accountId: job.accountId, ...snapshot });
  }

  /** A new job: announced, the environment turns BUSY, and it runs when a slot is free. */
  submit(job: PublishJob): void {
    this.announce(job);
    this.environments.announceBusy(job, true);
    this.enqueue(job.id);
  }

  /** Resolves once the job is final (sync publishing waits on this). */
  whenFinished(jobId: number): Promise<void> {
    const job = this.jobs.get(jobId);
    if (!job || isFinal(job.state)) return Promise.resolve();
    return this.finishedEntry(jobId).promise;
  }

  /**
   * R24: a QUEUED job is canceled at once; a RUNNING one turns CANCELING and stops at its next
   * safe point. Answers the job as it now stands, or null when it was already final.
   */
  cancel(jobId: number): PublishJob | null {
    const now = new Date();
    const canceledAtOnce = this.db.transaction(() => {
      if (!this.jobs.transition(jobId, ['QUEUED'], { state: 'CANCELED', finishedAt: now })) return false;
      this.jobs.closeOpenStages(jobId, { state: 'CANCELED', message: 'Canceled before it started' }, { state: 'CANCELED', message: 'Canceled before it started' }, now);
      return true;
    });
    if (canceledAtOnce) {
      const index = this.queue.indexOf(jobId);
      if (index >= 0) this.queue.splice(index, 1);
      this.complete(jobId);
      return this.jobs.get(jobId) ?? null;
    }
    if (this.jobs.transition(jobId, ['RUNNING'], { state: 'CANCELING' })) {
      const job = this.jobs.get(jobId);
      if (job) this.announce(job);
      this.running.get(jobId)?.abort(new Canceled());
      return job ?? null;
    }
    const job = this.jobs.get(jobId);
    return job && !isFinal(job.state) ? job : null;
  }

  /**
   * R25, at start: a job that was RUNNING or CANCELING when the process died is rolled back and
   * ends FAILED (INTERRUPTED) or CANCELED; QUEUED jobs run.
   */
  recover(): void {
    for (const job of this.jobs.inStates(['RUNNING', 'CANCELING'])) this.rollBack(job, job.state === 'CANCELING' ? 'canceled' : 'interrupted');
    for (const job of this.jobs.inStates(['QUEUED'])) this.enqueue(job.id);
  }

  /** R4: running jobs stop at their next safe point, are rolled back and end FAILED (INTERRUPTED). */
  async shutdown(): Promise<void> {
    this.stopping = true;
    this.queue.length = 0;
    const waiting = [...this.running.keys()].map((jobId) => this.finishedEntry(jobId).promise);
    for (const controller of this.running.values()) controller.abort(new Stopped());
    await Promise.all(waiting);
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

  private complete(jobId: number): void {
    const job = this.jobs.get(jobId);
    if (job) {
      this.announce(job);
      this.environments.announceBusy(job, false);
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
      void this.run(jobId, controller.signal)
        .catch((error: unknown) => this.logger.error({ err: error, jobId }, 'publish job runner failed'))
        .finally(() => {
          this.running.delete(jobId);
          this.pump();
        });
    }
  }

  private async run(jobId: number, signal: AbortSignal): Promise<void> {
    const queued = this.jobs.get(jobId);
    if (!queued || queued.state !== 'QUEUED') return;
    const plan = this.plans.get(planKey(queued));
    if (!plan) throw new Error(`no plan for ${planKey(queued)} jobs`);

    // Take the snapshot and start in one transaction, so that a crash leaves either a QUEUED job
    // or a RUNNING one that knows how to roll back.
    const started = this.db.transaction(() => {
      const rollback = JSON.stringify(plan.snapshot(queued));
      return this.jobs.transition(jobId, ['QUEUED'], { state: 'RUNNING', startedAt: new Date(), rollback });
    });
    if (!started) return;
    let job = this.jobs.get(jobId) ?? queued;
    this.announce(job);

    const context: StageContext = { job, signal, carry: new Map() };
    const stages = plan.stages(job);
    let position = 0;
    try {
      for (const stage of stages) {
        if (signal.aborted) throw signal.reason;
        this.jobs.setStage(jobId, position, { state: 'RUNNING', startedAt: new Date() });
        this.announce(job);
        if (this.options.stageDelayMs > 0) await sleep(this.options.stageDelayMs, undefined, { signal }).catch(() => { throw signal.reason; });
        const fault = this.options.fault?.(stage.key, job);
        if (fault) throw new StageFailure('RUNTIME_FAULT', fault);
        const outcome = await stage.run(context);
        if (signal.aborted) throw signal.reason;
        this.jobs.setStage(jobId, position, {
          state: 'skipped' in outcome ? 'SKIPPED' : 'SUCCEEDED',
          finishedAt: new Date(),
          message: 'skipped' in outcome ? outcome.skipped : outcome.message,
        });
        job = this.jobs.get(jobId) ?? job;
        this.announce(job);
        position += 1;
        // Each stage in a turn of the event loop of its own: stages that do no I/O would otherwise
        // run a whole job, and twenty jobs, without letting anything else in.
        await nextTurn();
      }
      const succeeded = this.db.transaction(() => this.jobs.transition(jobId, ['RUNNING'], { state: 'SUCCEEDED', finishedAt: new Date(), rollback: null }));
      if (!succeeded) {
        // Canceled after the last stage finished: the cancel loses, the publish stands.
        this.jobs.transition(jobId, ['CANCELING'], { state: 'SUCCEEDED', finishedAt: new Date(), rollback: null });
      }
      this.complete(jobId);
    } catch (error) {
      const current = this.jobs.get(jobId) ?? job;
      const reason = error instanceof Canceled || current.state === 'CANCELING' ? 'canceled' : error instanceof Stopped ? 'interrupted' : error;
      if (!(reason === 'canceled' || reason === 'interrupted' || reason instanceof StageFailure))
        this.logger.error({ err: error, jobId, stage: stages[position]?.key }, 'publish stage failed unexpectedly');
      this.rollBack(current, reason, stages[position]?.key);
    }
  }

  /** Undoes the job's runtime changes and ends it, all in one transaction (R23). */
  private rollBack(job: PublishJob, reason: 'canceled' | 'interrupted' | unknown, stage?: StageKey): void {
    const plan = this.plans.get(planKey(job));
    const now = new Date();
    this.db.transaction(() => {
      if (plan && job.rollback) plan.restore(job, JSON.parse(job.rollback) as unknown);
      if (reason === 'canceled') {
        const canceled = { state: 'CANCELED', message: 'Canceled; every change was rolled back' } as const;
        this.jobs.closeOpenStages(job.id, canceled, canceled, now);
        this.jobs.transition(job.id, ACTIVE_STATES, { state: 'CANCELED', finishedAt: now, rollback: null });
        return;
      }
      const failure =
        reason === 'interrupted'
          ? new StageFailure('INTERRUPTED', 'The server stopped while the job ran; every change was rolled back')
          : reason instanceof StageFailure
            ? reason
            : new StageFailure('INTERNAL', 'The stage failed unexpectedly; every change was rolled back');
      const failedStage = stage ?? this.runningStage(job.id)?.key;
      this.jobs.closeOpenStages(job.id, { state: 'FAILED', message: failure.message }, { state: 'SKIPPED', message: `Not run: ${failure.message}` }, now);
      this.jobs.transition(job.id, ACTIVE_STATES, {
        state: 'FAILED',
        finishedAt: now,
        errorCode: failure.code,
        errorMessage: failure.message,
        errorStage: failedStage ?? null,
        rollback: null,
      });
    });
    try {
      plan?.afterRestore?.(job);
    } catch (error) {
      this.logger.error({ err: error, jobId: job.id }, 'cleaning up after a rollback failed');
    }
    this.complete(job.id);
  }

  private runningStage(jobId: number): PublishStage | undefined {
    return this.jobs.stagesOf([jobId])[0]?.find((stage) => stage.state === 'RUNNING');
  }
}

/** One kind and action of job that runs one of several plans, as its request says. */
export function choosePlan(pick: (job: PublishJob) => JobPlan): JobPlan {
  return {
    stages: (job) => pick(job).stages(job),
    snapshot: (job) => pick(job).snapshot(job),
    restore: (job, snapshot) => pick(job).restore(job, snapshot),
    afterRestore: (job) => pick(job).afterRestore?.(job),
  };
}
