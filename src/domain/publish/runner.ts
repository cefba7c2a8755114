import { randomUUID } from 'node:crypto';
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
  /** R59: this instance's id (DATA_DIR/instance-id), the owner of the leases it holds; random when not given. */
  instanceId?: string;
  /** R59: how long a job's lease lasts unless renewed (JOB_LEASE_MS). */
  leaseMs?: number;
}

/** JOB_LEASE_MS's default. */
export const DEFAULT_LEASE_MS = 15_000;

/** Follows one account's job events from every instance until the answered function is called. */
export type JobFeed = (accountId: number, listener: (job: PublishJob, origin: string | undefined) => void) => () => void;

class Canceled extends Error {}
class Stopped extends Error {}
/** Another instance recovered the job after its lease expired: this one stops without writing. */
class LeaseLost extends Error {}

/** Whether `promise` settles within `ms`; the timer does not outlive the answer. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  const timedOut = sleep(ms, false, { signal: timer.signal }).catch(() => false);
  try {
    return await Promise.race([promise.then(() => true), timedOut]);
  } finally {
    timer.abort();
  }
}

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
 *
 * Several instances share the jobs (R59): each job runs on the instance that claimed it, under a
 * lease that instance renews; every write to a running job is conditioned on still holding it, and
 * a job whose lease expired is recovered (rolled back, as R25) by whichever instance finds it first.
 */
export class PublishRunner {
  private readonly plans = new Map<string, JobPlan>();
  private readonly running = new Map<number, AbortController>();
  /** Each held job's whole run or recovery, its last runtime calls included, for shutdown to wait on. */
  private readonly runs = new Map<number, Promise<void>>();
  private readonly finished = new Map<number, { promise: Promise<void>; resolve: () => void }>();
  /** Rollbacks waiting for their runtime (R50), by job id: aborted to give up. */
  private readonly rollbacks = new Map<number, { controller: AbortController; abandoned: boolean; done: Promise<void> }>();
  /** Jobs whose lease this instance holds (running, or rolling back), renewed by the heartbeat. */
  private readonly held = new Set<number>();
  /** Accounts whose job events this instance follows, with how many of its jobs and waits need each. */
  private readonly following = new Map<number, { count: number; stop: (() => void) | null }>();
  private feed: JobFeed | null = null;
  private ticker: NodeJS.Timeout | undefined;
  /** The heartbeat-and-recovery round in progress, and the claiming round: shutdown waits for both. */
  private ticking: Promise<void> | null = null;
  private pumping: Promise<void> | null = null;
  private pumpAgain = false;
  private stopping = false;
  /** R59: this instance's lease owner id. */
  readonly instanceId: string;
  private readonly leaseMs: number;

  constructor(
    private readonly db: Db,
    private readonly jobs: JobStore,
    private readonly environments: EnvironmentService,
    private readonly runtimeOf: (environmentId: number) => Promise<Runtime | null>,
    private readonly events: DomainEvents,
    private readonly logger: Logger,
    private readonly options: RunnerOptions,
  ) {
    this.instanceId = options.instanceId ?? randomUUID();
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  }

  /** How often leases are renewed and others' expired ones looked for: a third of the lease, so two rounds may fail before it lapses. */
  private get tickMs(): number {
    return Math.max(10, Math.floor(this.leaseMs / 3));
  }

  private leaseUntil(): Date {
    return new Date(Date.now() + this.leaseMs);
  }

  register(kind: PublishJob['kind'], action: PublishJob['action'], plan: JobPlan): void {
    this.plans.set(`${kind}:${action}`, plan);
  }

  /**
   * Where job events of every instance arrive (the live-update pubsub, over Redis when there are
   * several instances): a cancel or an abandoned rollback asked on another instance reaches the
   * one holding the job at once, and a job ending elsewhere ends a wait for it.
   */
  listen(feed: JobFeed): void {
    this.feed = feed;
    for (const [accountId, entry] of this.following) entry.stop ??= feed(accountId, (job, origin) => this.heard(job, origin));
  }

  /** Announces a job's persisted change to subscribers, with the job as it stands now. */
  async announce(job: PublishJob): Promise<void> {
    const reading = await this.jobs.read(job.id);
    if (reading) this.events.publish({ type: 'publishJobUpdated', accountId: job.accountId, origin: this.instanceId, ...reading });
  }

  /** A new job: announced, the environment turns BUSY, and it runs when a slot is free here or on another instance. */
  async submit(job: PublishJob): Promise<void> {
    await this.announce(job);
    await this.environments.announceBusy(job, true);
    this.pump();
  }

  /**
   * Resolves once the job is final (sync publishing waits on this), wherever it runs: on its final
   * event, or, should that event be lost, when a poll of the database finds it final.
   */
  async whenFinished(jobId: number): Promise<void> {
    const entry = this.finishedEntry(jobId);
    const job = await this.jobs.get(jobId);
    if (!job || isFinal(job.state)) return this.settle(jobId);
    this.follow(job.accountId);
    try {
      for (;;) {
        if (await within(entry.promise, this.tickMs)) return;
        const now = await this.jobs.get(jobId);
        if (!now || isFinal(now.state)) return this.settle(jobId);
      }
    } finally {
      this.unfollow(job.accountId);
    }
  }

  /**
   * R24: a QUEUED job is canceled at once; a RUNNING one turns CANCELING and stops at its next
   * safe point, on whichever instance runs it. Answers the job as it now stands, or null when it
   * was already final.
   */
  async cancel(jobId: number): Promise<PublishJob | null> {
    const now = new Date();
    const canceledAtOnce = await this.db.transaction(async () => {
      if (!await this.jobs.transition(jobId, ['QUEUED'], { state: 'CANCELED', finishedAt: now })) return false;
      await this.jobs.closeOpenStages(jobId, { state: 'CANCELED', message: 'Canceled before it started' }, { state: 'CANCELED', message: 'Canceled before it started' }, now);
      return true;
    });
    if (canceledAtOnce) {
      await this.complete(jobId);
      return await this.jobs.get(jobId) ?? null;
    }
    if (await this.jobs.transition(jobId, ['RUNNING'], { state: 'CANCELING' })) {
      const job = await this.jobs.get(jobId);
      // The announcement is also what tells another instance running the job (R59).
      if (job) await this.announce(job);
      this.running.get(jobId)?.abort(new Canceled());
      return job ?? null;
    }
    const job = await this.jobs.get(jobId);
    return job && !isFinal(job.state) ? job : null;
  }

  /**
   * R25, at start: a job that was RUNNING or CANCELING when its instance died is rolled back and
   * ends FAILED (INTERRUPTED) or CANCELED; QUEUED jobs run. This instance's own jobs from before a
   * restart are recovered at once, other instances' once their lease expires (R59): from now on,
   * every third of the lease, leases are renewed, expired ones recovered and QUEUED jobs claimed.
   */
  async recover(): Promise<void> {
    await this.recoverExpired(true);
    this.pump();
    this.ticker = setInterval(() => {
      if (this.ticking || this.stopping) return;
      this.ticking = this.tick().finally(() => (this.ticking = null));
    }, this.tickMs);
    this.ticker.unref();
  }

  /**
   * R50: an ADMIN ends a job whose rollback waits for an unreachable runtime: FAILED with
   * ROLLBACK_ABANDONED. The rollback may wait on another instance: the request is then recorded on
   * the job, for that instance to act on. Answers false when no rollback of that job is waiting.
   */
  async abandonRollback(jobId: number): Promise<boolean> {
    if (this.abandonHere(jobId)) return true;
    if (!await this.jobs.requestAbandon(jobId)) return false;
    const job = await this.jobs.get(jobId);
    if (job) await this.announce(job);
    return true;
  }

  /** Whether the job is rolling back and waiting for its runtime on this instance. */
  isRollingBack(jobId: number): boolean {
    return this.rollbacks.has(jobId);
  }

  /** R4: running jobs stop at their next safe point, are rolled back and end FAILED (INTERRUPTED). */
  async shutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.ticker);
    // A job claimed or taken over just now is among those stopped below.
    await Promise.all([this.pumping, this.ticking]);
    const waiting = [...this.runs.values()];
    for (const controller of this.running.values()) controller.abort(new Stopped());
    // Rollbacks still waiting for their runtime stay active and are resumed at the next start (R25),
    // or by another instance once their lease expires (R59).
    for (const rollback of this.rollbacks.values()) rollback.controller.abort();
    await Promise.all([...waiting, ...[...this.rollbacks.values()].map((rollback) => rollback.done)]);
    for (const entry of this.following.values()) entry.stop?.();
    this.following.clear();
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

  /** Ends every wait for the job. */
  private settle(jobId: number): void {
    this.finished.get(jobId)?.resolve();
    this.finished.delete(jobId);
  }

  private async complete(jobId: number): Promise<void> {
    const job = await this.jobs.get(jobId);
    if (job) {
      await this.announce(job);
      await this.environments.announceBusy(job, false);
    }
    this.settle(jobId);
  }

  /**
   * A job event from another instance. This one's own are ignored: it acts on its own cancels and
   * endings directly, and a cancel from elsewhere is found by its own safe-point reads, not by
   * hearing its own announcements of them.
   */
  private heard(job: PublishJob, origin: string | undefined): void {
    if (origin === this.instanceId) return;
    if (job.state === 'CANCELING') this.running.get(job.id)?.abort(new Canceled());
    if (job.rollbackWait === 'ABANDONED') this.abandonHere(job.id);
    if (isFinal(job.state)) this.settle(job.id);
  }

  private follow(accountId: number): void {
    const entry = this.following.get(accountId);
    if (entry) entry.count += 1;
    else this.following.set(accountId, { count: 1, stop: this.feed ? this.feed(accountId, (job, origin) => this.heard(job, origin)) : null });
  }

  private unfollow(accountId: number): void {
    const entry = this.following.get(accountId);
    if (!entry || --entry.count > 0) return;
    entry.stop?.();
    this.following.delete(accountId);
  }

  private abandonHere(jobId: number): boolean {
    const waiting = this.rollbacks.get(jobId);
    if (!waiting) return false;
    waiting.abandoned = true;
    waiting.controller.abort();
    return true;
  }

  /** One round of the lease keeping (R59): renew ours, recover expired ones, claim queued jobs. */
  private async tick(): Promise<void> {
    try {
      await this.heartbeat();
      await this.recoverExpired(false);
    } catch (error) {
      this.logger.error({ err: error }, 'renewing or recovering publish job leases failed');
    }
    this.pump();
  }

  /**
   * Renews every lease this instance holds in one statement. A job it no longer holds was
   * recovered by another instance while this one was paused or cut off: its run stops at once and
   * writes nothing more, the other instance's rollback stands.
   */
  private async heartbeat(): Promise<void> {
    const mine = [...this.held];
    if (mine.length === 0) return;
    const kept = new Set(await this.jobs.renewLeases(this.instanceId, mine, this.leaseUntil()));
    for (const jobId of mine) if (!kept.has(jobId) && this.held.has(jobId)) this.lose(jobId);
  }

  private lose(jobId: number): void {
    this.logger.warn({ jobId }, 'another instance recovered this publish job after its lease expired; it stops here without writing');
    this.held.delete(jobId);
    this.running.get(jobId)?.abort(new LeaseLost());
    this.rollbacks.get(jobId)?.controller.abort();
  }

  /** Takes over and rolls back jobs whose instance stopped renewing their lease (at start: also our own from before). */
  private async recoverExpired(atStart: boolean): Promise<void> {
    const now = new Date();
    const ownPast = atStart ? this.instanceId : undefined;
    for (const found of await this.jobs.recoverable(now, ownPast)) {
      if (this.stopping) return;
      if (this.held.has(found.id)) continue;
      const job = await this.jobs.takeOver(found.id, this.instanceId, now, this.leaseUntil(), ownPast);
      if (!job) continue;
      if (found.leaseOwner !== this.instanceId)
        this.logger.warn({ jobId: job.id, instance: found.leaseOwner }, 'recovering a publish job whose instance stopped renewing its lease');
      this.runs.set(
        job.id,
        this.hold(job, () => this.rollBack(job, job.state === 'CANCELING' ? 'canceled' : 'interrupted')).finally(() => this.runs.delete(job.id)),
      );
    }
  }

  /** Runs `work` while this instance holds the job: its lease renewed, its account's events followed. */
  private hold(job: PublishJob, work: () => Promise<void>): Promise<void> {
    this.held.add(job.id);
    this.follow(job.accountId);
    return work()
      .catch((error: unknown) => this.logger.error({ err: error, jobId: job.id }, 'publish job runner failed'))
      .finally(() => {
        this.held.delete(job.id);
        this.unfollow(job.accountId);
      });
  }

  /** Claims QUEUED jobs, oldest first, while slots are free; a job another instance claimed first is its. */
  private pump(): void {
    if (this.stopping) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = (async () => {
      do {
        this.pumpAgain = false;
        while (!this.stopping && this.running.size < this.options.maxConcurrentJobs) {
          const job = await this.jobs.claimNext(this.instanceId, this.leaseUntil());
          if (!job) break;
          this.startRun(job);
        }
      } while (this.pumpAgain && !this.stopping);
    })()
      .catch((error: unknown) => this.logger.error({ err: error }, 'claiming queued publish jobs failed'))
      .finally(() => (this.pumping = null));
  }

  private startRun(job: PublishJob): void {
    const controller = new AbortController();
    this.running.set(job.id, controller);
    const run = this.hold(job, () => this.run(job, controller.signal)).finally(() => {
      this.running.delete(job.id);
      this.runs.delete(job.id);
      this.pump();
    });
    this.runs.set(job.id, run);
  }

  /**
   * A safe point (R24, R59): the job's state read back, for a cancel asked on another instance
   * whose event did not arrive, and its holder, for a lease lost while this instance was paused.
   */
  private async checkpoint(jobId: number): Promise<void> {
    const lease = await this.jobs.leaseOf(jobId);
    if (lease?.leaseOwner !== this.instanceId) throw new LeaseLost();
    if (lease.state === 'CANCELING') throw new Canceled();
  }

  private async run(claimed: PublishJob, signal: AbortSignal): Promise<void> {
    const jobId = claimed.id;
    const me = this.instanceId;
    const plan = this.plans.get(planKey(claimed));
    if (!plan) throw new Error(`no plan for ${planKey(claimed)} jobs`);

    const restorePoint = restorePointOf(claimed);
    let job = claimed;
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
        if (!await this.jobs.setStage(jobId, position, { state: 'RUNNING', startedAt: new Date() }, me)) throw new LeaseLost();
        await this.announce(job);
        if (this.options.stageDelayMs > 0) await sleep(this.options.stageDelayMs, undefined, { signal }).catch(() => { throw signal.reason; });
        // Before the stage changes anything at the runtime.
        await this.checkpoint(jobId);
        if (position === 1) {
          // VALIDATE changed nothing. The job records where its restore point is before asking for
          // it, so that a crash at any moment leaves a job that knows what to restore (R25, R50).
          if (!await this.jobs.record(jobId, { rollback: JSON.stringify({ restorePoint } satisfies RollbackRecord) }, me)) throw new LeaseLost();
          job = await this.jobs.get(jobId) ?? job;
          await runtime.run(`${restorePoint}:restore-point`, { type: 'createRestorePoint', restorePoint, scope: plan.restoreScope(job) });
        }
        const fault = this.options.fault?.(stage.key, job, 'before');
        if (fault) throw new StageFailure('RUNTIME_FAULT', fault);
        const outcome = await stage.run(context);
        const lateFault = this.options.fault?.(stage.key, job, 'after');
        if (lateFault) throw new StageFailure('RUNTIME_FAULT', lateFault);
        if (signal.aborted) throw signal.reason;
        const recorded = await this.jobs.setStage(
          jobId,
          position,
          {
            state: 'skipped' in outcome ? 'SKIPPED' : 'SUCCEEDED',
            finishedAt: new Date(),
            message: 'skipped' in outcome ? outcome.skipped : outcome.message,
          },
          me,
        );
        if (!recorded) throw new LeaseLost();
        job = await this.jobs.get(jobId) ?? job;
        await this.announce(job);
        position += 1;
        // Each stage in a turn of the event loop of its own: stages that do no I/O would otherwise
        // run a whole job, and twenty jobs, without letting anything else in.
        await nextTurn();
      }
      // The job ends SUCCEEDED before the restore point goes: a crash in between must not roll back a finished publish.
      const done = { state: 'SUCCEEDED', finishedAt: new Date(), rollback: null } as const;
      // Canceled after the last stage finished: the cancel loses, the publish stands.
      const succeeded = await this.jobs.transition(jobId, ['RUNNING'], done, me) || await this.jobs.transition(jobId, ['CANCELING'], done, me);
      if (!succeeded) throw new LeaseLost();
      await this.complete(jobId);
      await runtime
        .run(`${restorePoint}:discard`, { type: 'discardRestorePoint', restorePoint })
        .catch((error: unknown) => this.logger.warn({ err: error, jobId }, 'the restore point of a finished job was not discarded'));
    } catch (caught) {
      if (caught instanceof LeaseLost || signal.reason instanceof LeaseLost) {
        this.logger.warn({ jobId, stage: stages[position]?.key }, 'lost the lease of a running publish job; another instance rolls it back');
        return;
      }
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
   * (its environment BUSY) with a stage message saying so, until it lands or an ADMIN abandons it
   * (on any instance: the request is read back between tries). Every write is conditioned on
   * still holding the job's lease; once lost, the rollback is the other instance's.
   */
  private async rollBack(job: PublishJob, reason: 'canceled' | 'interrupted' | unknown, stage?: StageKey): Promise<void> {
    const me = this.instanceId;
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
        let waiting = false;
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
            if (controller.signal.aborted) return; // stopping, or the lease lost: the rollback is resumed elsewhere
            const lease = await this.jobs.leaseOf(job.id);
            if (lease?.leaseOwner !== me) return;
            if (lease.rollbackWait === 'ABANDONED') {
              entry.abandoned = true;
              break;
            }
            // Recorded so that an ADMIN on any instance may abandon it (R50).
            if (!waiting && !await this.jobs.record(job.id, { rollbackWait: 'WAITING' }, me)) return;
            waiting = true;
            const open = await this.runningStage(job.id);
            if (open) {
              if (!await this.jobs.setStage(job.id, open.position, { message: `Rolling back: the runtime at ${runtime.location} does not answer; retrying` }, me)) return;
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

  /** Ends a rolled-back job: FAILED with its error, or CANCELED; nothing when the lease was lost. */
  private async finish(job: PublishJob, reason: 'canceled' | 'interrupted' | unknown, stage?: StageKey): Promise<void> {
    const me = this.instanceId;
    const now = new Date();
    const ended = await this.db.transaction(async () => {
      if (reason === 'canceled') {
        const canceled = { state: 'CANCELED', message: 'Canceled; every change was rolled back' } as const;
        if (!await this.jobs.transition(job.id, ACTIVE_STATES, { state: 'CANCELED', finishedAt: now, rollback: null, rollbackWait: null }, me)) return false;
        await this.jobs.closeOpenStages(job.id, canceled, canceled, now);
        return true;
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
      const failed = await this.jobs.transition(
        job.id,
        ACTIVE_STATES,
        {
          state: 'FAILED',
          finishedAt: now,
          errorCode: failure.code,
          errorMessage: failure.message,
          errorStage: failedStage ?? null,
          rollback: null,
          rollbackWait: null,
          ...warnings,
        },
        me,
      );
      if (!failed) return false;
      await this.jobs.closeOpenStages(job.id, { state: 'FAILED', message: failure.message }, { state: 'SKIPPED', message: `Not run: ${failure.message}` }, now);
      return true;
    });
    if (ended) await this.complete(job.id);
    else this.logger.warn({ jobId: job.id }, 'lost the lease of a publish job while rolling it back; another instance ends it');
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
