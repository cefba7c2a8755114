import { and, asc, eq, inArray, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import { isUniqueViolation, lockForUpdate, oldestQueuedJob, oneRow, type Db } from '../../db/client.js';
import { accounts, publishJobs, publishStages } from '../../db/schema.js';
import type { jobStates, publishActions, publishKinds } from '../vocabulary.js';
import { chooseOrder, keysetPage, tableSource, type KeysetOrder, type OrderBy, type Page, type PageArgs } from '../pagination.js';
import type { Principal } from '../principal.js';
import { inIdOrder, listsByKey } from '../rows.js';

export type PublishJob = typeof publishJobs.$inferSelect;
export type PublishStage = typeof publishStages.$inferSelect;
export type JobState = (typeof jobStates)[number];
export type PublishKind = (typeof publishKinds)[number];
export type PublishAction = (typeof publishActions)[number];
/** Every stage a publish job can have; each kind of job runs some of them, in this order. */
export const stageKeys = [
  'VALIDATE',
  'TRANSFER_BINARIES',
  'WRAP',
  'SIGN',
  'REGISTER_VERSIONS',
  'REMOVE_VERSIONS',
  'APPLY_TARGETS',
  'SET_WORKFLOW_STATE',
  'NOTIFY_TARGETS',
  'PUBLISH_IDENTITY_SERVICES',
  'PUBLISH_INTEGRATION_SERVICES',
  'DEPLOY_WEB_CLIENT',
  'ACTIVATE',
  'UNPUBLISH',
] as const;
export type StageKey = (typeof stageKeys)[number];

export const ACTIVE_STATES: JobState[] = ['QUEUED', 'RUNNING', 'CANCELING'];
export const FINAL_STATES: JobState[] = ['SUCCEEDED', 'FAILED', 'CANCELED'];
export const isFinal = (state: string): boolean => (FINAL_STATES as string[]).includes(state);

const FINISHED_STAGE_STATES = new Set(['SUCCEEDED', 'FAILED', 'SKIPPED', 'CANCELED']);

/** R22: finished stages over all stages. */
export const progressOf = (stages: PublishStage[]): number =>
  stages.length === 0 ? 0 : stages.filter((stage) => FINISHED_STAGE_STATES.has(stage.state)).length / stages.length;

export const trackingId = (job: PublishJob): string => `PUB-${String(job.trackingNumber).padStart(6, '0')}`;

/** A job and its stages as one consistent reading (`JobStore.read`). */
export interface JobReading {
  job: PublishJob;
  stages: PublishStage[];
}

export interface NewJob {
  appId: number;
  environmentId: number;
  kind: PublishKind;
  action: PublishAction;
  sync: boolean;
  request: unknown;
  warnings: string[];
  stages: { key: StageKey; title: string }[];
}

export type JobOrderField = 'CREATED_AT' | 'UPDATED_AT' | 'FINISHED_AT';

export interface JobFilter extends PageArgs {
  appId?: number | null;
  environmentId?: number | null;
  states?: JobState[] | null;
  /** Only jobs created or changed at or after this moment. */
  since?: Date | null;
  orderBy?: OrderBy<JobOrderField> | null;
}

/** Far in the future: unfinished jobs sort as if they finish after every finished one. */
const NOT_FINISHED = 8_640_000_000_000_000;

const jobOrders: Record<JobOrderField, Omit<KeysetOrder<PublishJob>, 'name' | 'direction'>> = {
  // Ids grow with creation, and unlike timestamps never tie.
  CREATED_AT: { sortKey: publishJobs.id, id: publishJobs.id, sortValue: (job) => job.id, idValue: (job) => job.id },
  UPDATED_AT: {
    sortKey: sql`coalesce(${publishJobs.updatedAt}, ${publishJobs.createdAt})`,
    id: publishJobs.id,
    sortValue: (job) => (job.updatedAt ?? job.createdAt).getTime(),
    idValue: (job) => job.id,
  },
  FINISHED_AT: {
    sortKey: sql`coalesce(${publishJobs.finishedAt}, ${NOT_FINISHED})`,
    id: publishJobs.id,
    sortValue: (job) => job.finishedAt?.getTime() ?? NOT_FINISHED,
    idValue: (job) => job.id,
  },
};

const defaultJobOrder: KeysetOrder<PublishJob> = { ...jobOrders.CREATED_AT, direction: 'desc' };

/** Only while `owner` holds the job's lease; no condition without an owner. */
const heldBy = (owner: string | undefined): SQL | undefined => (owner === undefined ? undefined : eq(publishJobs.leaseOwner, owner));

/** No live lease: expired, never taken, or (at start) held by this instance before it restarted. */
const unheld = (now: Date, orOwnedBy: string | undefined): SQL | undefined =>
  or(
    lt(publishJobs.leaseExpiresAt, now),
    isNull(publishJobs.leaseExpiresAt),
    orOwnedBy === undefined ? undefined : eq(publishJobs.leaseOwner, orOwnedBy),
  );

/** Persistence of publish jobs and their stages; the runner decides what happens when. */
export class JobStore {
  /** Final jobs, which never change again, by id; bounded, least recently used out first. */
  private readonly finalJobs = new LRUCache<number, PublishJob>({ max: 20_000 });
  /** Stage lists that can no longer change, by job id; bounded, least recently used out first. */
  private readonly finishedStages = new LRUCache<number, PublishStage[]>({ max: 20_000 });

  constructor(private readonly db: Db) {}

  /**
   * Creates a QUEUED job with every stage PENDING (R21), or answers null when the environment
   * already has an active job: the partial unique index decides, not a check beforehand (R10).
   */
  async create(principal: Principal, job: NewJob): Promise<PublishJob | null> {
    try {
      return await this.db.transaction(async (tx) => {
        // The account's next tracking number: read and used under the account's row lock, so
        // two creates at once (on different environments) cannot both take the same one.
        await lockForUpdate(tx, accounts.id, principal.accountId);
        const next =
          ((await tx
            .select({ last: sql<number>`max(${publishJobs.trackingNumber})`.mapWith(Number) })
            .from(publishJobs)
            .where(eq(publishJobs.accountId, principal.accountId))
            .limit(1))[0]?.last ?? 0) + 1;
        const created = oneRow(await tx
          .insert(publishJobs)
          .values({
            accountId: principal.accountId,
            trackingNumber: next,
            appId: job.appId,
            environmentId: job.environmentId,
            kind: job.kind,
            action: job.action,
            sync: job.sync,
            state: 'QUEUED',
            requestedBy: principal.userId,
            request: JSON.stringify(job.request),
            warnings: JSON.stringify(job.warnings),
          })
          .returning());
        await tx
          .insert(publishStages)
          .values(job.stages.map((stage, position) => ({ jobId: created.id, position, key: stage.key, title: stage.title, state: 'PENDING' as const })));
        return created;
      });
    } catch (error) {
      if (isUniqueViolation(error, 'publish_jobs_one_active_per_environment')) return null;
      throw error;
    }
  }

  async get(jobId: number): Promise<PublishJob | undefined> {
    const [job] = await this.db.select().from(publishJobs).where(eq(publishJobs.id, jobId));
    return job;
  }

  async byIds(principal: Principal, ids: readonly number[]): Promise<(PublishJob | null)[]> {
    const rows = await this.db
      .select()
      .from(publishJobs)
      .where(and(eq(publishJobs.accountId, principal.accountId), inArray(publishJobs.id, [...ids])));
    return inIdOrder(ids, rows);
  }

  /**
   * Stages of many jobs in one statement, one list per job id, in order. Lists whose every stage
   * has finished never change again (only RUNNING and PENDING stages are ever written), so they
   * are kept: a dashboard of finished jobs reads no stage rows at all.
   */
  async stagesOf(jobIds: readonly number[]): Promise<PublishStage[][]> {
    const missing = jobIds.filter((id) => !this.finishedStages.has(id));
    const read =
      missing.length === 0
        ? []
        : listsByKey(
            missing,
            await this.db
              .select()
              .from(publishStages)
              .where(inArray(publishStages.jobId, missing))
              .orderBy(asc(publishStages.jobId), asc(publishStages.position)),
            (row) => row.jobId,
          );
    const fresh = new Map(missing.map((id, i) => [id, read[i] ?? []]));
    for (const [id, stages] of fresh) {
      if (stages.length > 0 && stages.every((stage) => FINISHED_STAGE_STATES.has(stage.state))) this.finishedStages.set(id, stages);
    }
    return jobIds.map((id) => fresh.get(id) ?? this.finishedStages.get(id) ?? []);
  }

  /** Newest first, narrowed by app, environment and states. */
  async list(principal: Principal, filter: JobFilter): Promise<Page<PublishJob>> {
    const conditions: (SQL | undefined)[] = [eq(publishJobs.accountId, principal.accountId)];
    if (filter.appId !== undefined) conditions.push(filter.appId === null ? sql`false` : eq(publishJobs.appId, filter.appId));
    if (filter.environmentId !== undefined)
      conditions.push(filter.environmentId === null ? sql`false` : eq(publishJobs.environmentId, filter.environmentId));
    if (filter.states && filter.states.length > 0) conditions.push(inArray(publishJobs.state, filter.states));
    if (filter.since) conditions.push(sql`coalesce(${publishJobs.updatedAt}, ${publishJobs.createdAt}) >= ${filter.since.getTime()}`);
    return keysetPage(
      tableSource(this.db, publishJobs),
      filter.orderBy ? chooseOrder(jobOrders, filter.orderBy) : defaultJobOrder,
      and(...conditions),
      filter,
    );
  }

  /** The active job of each environment, or null, in one statement. */
  async activeByEnvironment(environmentIds: readonly number[]): Promise<(PublishJob | null)[]> {
    const rows = await this.db
      .select()
      .from(publishJobs)
      .where(and(inArray(publishJobs.environmentId, [...environmentIds]), inArray(publishJobs.state, ACTIVE_STATES)));
    const byEnvironment = new Map(rows.map((row) => [row.environmentId, row]));
    return environmentIds.map((id) => byEnvironment.get(id) ?? null);
  }

  /**
   * The newest job of each (app, environment) pair, of each kind: their ids in one statement, then
   * the rows not already kept. A final job never changes again, so it is kept once read.
   */
  async latestOfKinds(pairs: readonly { appId: number; environmentId: number }[]): Promise<Record<PublishKind, (PublishJob | null)[]>> {
    // A search of publish_jobs_app_env_kind_idx per app, covering (EXPLAIN QUERY PLAN).
    const newest =
      pairs.length === 0
        ? []
        : await this.db
            .select({ id: sql<number>`max(${publishJobs.id})`.mapWith(Number) })
            .from(publishJobs)
            .where(inArray(publishJobs.appId, [...new Set(pairs.map((pair) => pair.appId))]))
            .groupBy(publishJobs.appId, publishJobs.environmentId, publishJobs.kind);
    const ids = newest.map((row) => row.id);
    const missing = ids.filter((id) => !this.finalJobs.has(id));
    const read = missing.length === 0 ? [] : await this.db.select().from(publishJobs).where(inArray(publishJobs.id, missing));
    for (const job of read) if (isFinal(job.state)) this.finalJobs.set(job.id, job);
    const rows = [...read, ...ids.flatMap((id) => this.finalJobs.get(id) ?? [])];
    const byKey = new Map(rows.map((row) => [`${row.kind}:${row.appId}:${row.environmentId}`, row]));
    const of = (kind: PublishKind) => pairs.map((pair) => byKey.get(`${kind}:${pair.appId}:${pair.environmentId}`) ?? null);
    return { NATIVE_CLIENT: of('NATIVE_CLIENT'), SERVICES_AND_WEB: of('SERVICES_AND_WEB') };
  }

  /** Jobs in these states, oldest first: what a starting server must resume or roll back. */
  async inStates(states: JobState[]): Promise<PublishJob[]> {
    return await this.db.select().from(publishJobs).where(inArray(publishJobs.state, states)).orderBy(asc(publishJobs.id));
  }

  /**
   * Moves a job from one state to another only if it is still in the first, and, given an `owner`,
   * only while that instance holds its lease (R59): a paused instance that lost the job to another
   * writes nothing. Answers whether it did.
   */
  async transition(jobId: number, from: JobState[], changes: Partial<PublishJob> & { state: JobState }, owner?: string): Promise<boolean> {
    const updated = await this.db
      .update(publishJobs)
      .set({ ...changes, revision: sql`${publishJobs.revision} + 1` })
      .where(and(eq(publishJobs.id, jobId), inArray(publishJobs.state, from), heldBy(owner)))
      .returning({ id: publishJobs.id });
    return updated.length > 0;
  }

  /** Records a detail of a job without changing its state; answers false when `owner` no longer holds it. */
  async record(jobId: number, changes: Pick<Partial<PublishJob>, 'rollback' | 'rollbackWait'>, owner?: string): Promise<boolean> {
    const updated = await this.db
      .update(publishJobs)
      .set(changes)
      .where(and(eq(publishJobs.id, jobId), heldBy(owner)))
      .returning({ id: publishJobs.id });
    return updated.length > 0;
  }

  /** Changes one stage (and the job's revision); answers false, changing nothing, when `owner` no longer holds the job. */
  async setStage(jobId: number, position: number, changes: Partial<PublishStage>, owner?: string): Promise<boolean> {
    return await this.db.transaction(async () => {
      const held = await this.db
        .update(publishJobs)
        .set({ revision: sql`${publishJobs.revision} + 1` })
        .where(and(eq(publishJobs.id, jobId), heldBy(owner)))
        .returning({ id: publishJobs.id });
      if (held.length === 0) return false;
      await this.db
        .update(publishStages)
        .set(changes)
        .where(and(eq(publishStages.jobId, jobId), eq(publishStages.position, position)));
      return true;
    });
  }

  /** R59: starts this QUEUED job on `owner`, holding its lease until `until`; null when it is not QUEUED any more. */
  async claim(jobId: number, owner: string, until: Date): Promise<PublishJob | null> {
    return this.claimWhere(eq(publishJobs.id, jobId), owner, until);
  }

  /** R59: starts the oldest QUEUED job on `owner`, one no other instance is claiming; null when none waits. */
  async claimNext(owner: string, until: Date): Promise<PublishJob | null> {
    return this.claimWhere(sql`${publishJobs.id} = ${oldestQueuedJob(this.db)}`, owner, until);
  }

  private async claimWhere(which: SQL, owner: string, until: Date): Promise<PublishJob | null> {
    const [claimed] = await this.db
      .update(publishJobs)
      .set({ state: 'RUNNING', startedAt: new Date(), leaseOwner: owner, leaseExpiresAt: until, revision: sql`${publishJobs.revision} + 1` })
      .where(and(which, eq(publishJobs.state, 'QUEUED')))
      .returning();
    return claimed ?? null;
  }

  /**
   * The heartbeat (R59): extends `owner`'s lease on these jobs in one statement and answers the
   * ones it still holds; a job missing from the answer was recovered by another instance.
   */
  async renewLeases(owner: string, jobIds: readonly number[], until: Date): Promise<number[]> {
    if (jobIds.length === 0) return [];
    const rows = await this.db
      .update(publishJobs)
      .set({ leaseExpiresAt: until })
      .where(and(inArray(publishJobs.id, [...jobIds]), eq(publishJobs.leaseOwner, owner)))
      .returning({ id: publishJobs.id });
    return rows.map((row) => row.id);
  }

  /**
   * Running or canceling jobs nobody holds: their lease expired (or they predate leases), or, with
   * `orOwnedBy`, this instance held them in a previous life (R25 at start).
   */
  async recoverable(now: Date, orOwnedBy?: string): Promise<PublishJob[]> {
    return await this.db
      .select()
      .from(publishJobs)
      .where(and(inArray(publishJobs.state, ['RUNNING', 'CANCELING']), unheld(now, orOwnedBy)))
      .orderBy(asc(publishJobs.id));
  }

  /** Takes a job found by `recoverable` over for `owner`, unless another instance renewed or took it first. */
  async takeOver(jobId: number, owner: string, now: Date, until: Date, orOwnedBy?: string): Promise<PublishJob | null> {
    const [taken] = await this.db
      .update(publishJobs)
      .set({ leaseOwner: owner, leaseExpiresAt: until })
      .where(and(eq(publishJobs.id, jobId), inArray(publishJobs.state, ['RUNNING', 'CANCELING']), unheld(now, orOwnedBy)))
      .returning();
    return taken ?? null;
  }

  /** What a running job's holder checks at each safe point: its state, holder and rollback request. */
  async leaseOf(jobId: number): Promise<Pick<PublishJob, 'state' | 'leaseOwner' | 'rollbackWait'> | undefined> {
    const [row] = await this.db
      .select({ state: publishJobs.state, leaseOwner: publishJobs.leaseOwner, rollbackWait: publishJobs.rollbackWait })
      .from(publishJobs)
      .where(eq(publishJobs.id, jobId));
    return row;
  }

  /**
   * R50 from any instance: marks a job whose rollback waits for its runtime as abandoned, for its
   * holder to end; answers false when no rollback of that job is waiting.
   */
  async requestAbandon(jobId: number): Promise<boolean> {
    const updated = await this.db
      .update(publishJobs)
      .set({ rollbackWait: 'ABANDONED', revision: sql`${publishJobs.revision} + 1` })
      .where(and(eq(publishJobs.id, jobId), inArray(publishJobs.state, ['RUNNING', 'CANCELING']), eq(publishJobs.rollbackWait, 'WAITING')))
      .returning({ id: publishJobs.id });
    return updated.length > 0;
  }

  /** The job and its stages as one consistent reading. */
  async read(jobId: number): Promise<JobReading | null> {
    return await this.db.transaction(async () => {
      const job = await this.get(jobId);
      if (!job) return null;
      const stages = await this.db.select().from(publishStages).where(eq(publishStages.jobId, jobId)).orderBy(asc(publishStages.position));
      return { job, stages };
    });
  }

  /** Closes the stage that was RUNNING and every one still PENDING, as a job ends early. */
  async closeOpenStages(
    jobId: number,
    running: { state: PublishStage['state']; message: string },
    pending: { state: PublishStage['state']; message: string },
    at: Date,
  ): Promise<void> {
    await this.db
      .update(publishStages)
      .set({ state: running.state, finishedAt: at, message: running.message })
      .where(and(eq(publishStages.jobId, jobId), eq(publishStages.state, 'RUNNING')));
    await this.db
      .update(publishStages)
      .set({ state: pending.state, message: pending.message })
      .where(and(eq(publishStages.jobId, jobId), eq(publishStages.state, 'PENDING')));
  }
}

