import { and, asc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { SqliteError } from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import type { Db } from '../../db/client.js';
import { jobStates, publishJobs, publishStages, type publishActions, type publishKinds } from '../../db/schema.js';
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

export interface JobSnapshot {
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

/** Persistence of publish jobs and their stages; the runner decides what happens when. */
export class JobStore {
  /**
   * The statements every change of a running job reads or writes (R22: each change is persisted,
   * then announced with the job as it stands), built and prepared once rather than per call.
   */
  private readonly jobById;
  private readonly stagesOfJob;
  private readonly bumpRevision;
  /** Dashboard reads, one statement text whatever the number of ids (a JSON array parameter). */
  private readonly stagesOfJobs;
  private readonly newestJobIds;
  private readonly jobsByIds;
  /** Final jobs, which never change again, by id; bounded, least recently used out first. */
  private readonly finalJobs = new LRUCache<number, PublishJob>({ max: 20_000 });
  /** Stage lists that can no longer change, by job id; bounded, least recently used out first. */
  private readonly finishedStages = new LRUCache<number, PublishStage[]>({ max: 20_000 });

  constructor(private readonly db: Db) {
    this.jobById = db.select().from(publishJobs).where(eq(publishJobs.id, sql.placeholder('id'))).prepare();
    this.stagesOfJob = db.select().from(publishStages).where(eq(publishStages.jobId, sql.placeholder('id'))).orderBy(asc(publishStages.position)).prepare();
    this.bumpRevision = db
      .update(publishJobs)
      .set({ revision: sql`${publishJobs.revision} + 1` })
      .where(eq(publishJobs.id, sql.placeholder('id')))
      .prepare();
    this.stagesOfJobs = db
      .select()
      .from(publishStages)
      .where(sql`${publishStages.jobId} in (select value from json_each(${sql.placeholder('ids')}))`)
      .orderBy(asc(publishStages.jobId), asc(publishStages.position))
      .prepare();
    // The newest job of each app, environment and kind: a search of publish_jobs_app_env_kind_idx
    // per app, covering (EXPLAIN QUERY PLAN).
    this.newestJobIds = db
      .select({ id: sql<number>`max(${publishJobs.id})` })
      .from(publishJobs)
      .where(sql`${publishJobs.appId} in (select value from json_each(${sql.placeholder('appIds')}))`)
      .groupBy(publishJobs.appId, publishJobs.environmentId, publishJobs.kind)
      .prepare();
    this.jobsByIds = db
      .select()
      .from(publishJobs)
      .where(sql`${publishJobs.id} in (select value from json_each(${sql.placeholder('ids')}))`)
      .prepare();
  }

  /**
   * Creates a QUEUED job with every stage PENDING (R21), or answers null when the environment
   * already has an active job: the partial unique index decides, not a check beforehand (R10).
   */
  create(principal: Principal, job: NewJob): PublishJob | null {
    try {
      return this.db.transaction((tx) => {
        const next =
          (tx
            .select({ last: sql<number>`max(${publishJobs.trackingNumber})` })
            .from(publishJobs)
            .where(eq(publishJobs.accountId, principal.accountId))
            .get()?.last ?? 0) + 1;
        const created = tx
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
          .returning()
          .get();
        tx.insert(publishStages)
          .values(job.stages.map((stage, position) => ({ jobId: created.id, position, key: stage.key, title: stage.title, state: 'PENDING' as const })))
          .run();
        return created;
      });
    } catch (error) {
      if (error instanceof SqliteError && error.code === 'SQLITE_CONSTRAINT_UNIQUE' && error.message.includes('publish_jobs.environment_id'))
        return null;
      throw error;
    }
  }

  get(jobId: number): PublishJob | undefined {
    return this.jobById.get({ id: jobId });
  }

  byIds(principal: Principal, ids: readonly number[]): (PublishJob | null)[] {
    const rows = this.db
      .select()
      .from(publishJobs)
      .where(and(eq(publishJobs.accountId, principal.accountId), inArray(publishJobs.id, [...ids])))
      .all();
    return inIdOrder(ids, rows);
  }

  /**
   * Stages of many jobs in one statement, one list per job id, in order. Lists whose every stage
   * has finished never change again (only RUNNING and PENDING stages are ever written), so they
   * are kept: a dashboard of finished jobs reads no stage rows at all.
   */
  stagesOf(jobIds: readonly number[]): PublishStage[][] {
    const missing = jobIds.filter((id) => !this.finishedStages.has(id));
    const read = missing.length === 0 ? [] : listsByKey(missing, this.stagesOfJobs.all({ ids: JSON.stringify(missing) }), (row) => row.jobId);
    const fresh = new Map(missing.map((id, i) => [id, read[i] ?? []]));
    for (const [id, stages] of fresh) {
      if (stages.length > 0 && stages.every((stage) => FINISHED_STAGE_STATES.has(stage.state))) this.finishedStages.set(id, stages);
    }
    return jobIds.map((id) => fresh.get(id) ?? this.finishedStages.get(id) ?? []);
  }

  /** Newest first, narrowed by app, environment and states. */
  list(principal: Principal, filter: JobFilter): Page<PublishJob> {
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
  activeByEnvironment(environmentIds: readonly number[]): (PublishJob | null)[] {
    const rows = this.db
      .select()
      .from(publishJobs)
      .where(and(inArray(publishJobs.environmentId, [...environmentIds]), inArray(publishJobs.state, ACTIVE_STATES)))
      .all();
    const byEnvironment = new Map(rows.map((row) => [row.environmentId, row]));
    return environmentIds.map((id) => byEnvironment.get(id) ?? null);
  }

  /**
   * The newest job of each (app, environment) pair, of each kind: their ids in one statement, then
   * the rows not already kept. A final job never changes again, so it is kept once read.
   */
  latestOfKinds(pairs: readonly { appId: number; environmentId: number }[]): Record<PublishKind, (PublishJob | null)[]> {
    const ids = pairs.length === 0 ? [] : this.newestJobIds.all({ appIds: JSON.stringify([...new Set(pairs.map((pair) => pair.appId))]) }).map((row) => row.id);
    const missing = ids.filter((id) => !this.finalJobs.has(id));
    const read = missing.length === 0 ? [] : this.jobsByIds.all({ ids: JSON.stringify(missing) });
    for (const job of read) if (isFinal(job.state)) this.finalJobs.set(job.id, job);
    const rows = [...read, ...ids.flatMap((id) => this.finalJobs.get(id) ?? [])];
    const byKey = new Map(rows.map((row) => [`${row.kind}:${row.appId}:${row.environmentId}`, row]));
    const of = (kind: PublishKind) => pairs.map((pair) => byKey.get(`${kind}:${pair.appId}:${pair.environmentId}`) ?? null);
    return { NATIVE_CLIENT: of('NATIVE_CLIENT'), SERVICES_AND_WEB: of('SERVICES_AND_WEB') };
  }

  /** Jobs in these states, oldest first: what a starting server must resume or roll back. */
  inStates(states: JobState[]): PublishJob[] {
    return this.db.select().from(publishJobs).where(inArray(publishJobs.state, states)).orderBy(asc(publishJobs.id)).all();
  }

  /** Moves a job from one state to another only if it is still in the first; answers whether it did. */
  transition(jobId: number, from: JobState[], changes: Partial<PublishJob> & { state: JobState }): boolean {
    const updated = this.db
      .update(publishJobs)
      .set({ ...changes, revision: sql`${publishJobs.revision} + 1` })
      .where(and(eq(publishJobs.id, jobId), inArray(publishJobs.state, from)))
      .run();
    return updated.changes > 0;
  }

  /** Records a detail of a job without changing its state. */
  record(jobId: number, changes: Pick<Partial<PublishJob>, 'rollback'>): void {
    this.db.update(publishJobs).set(changes).where(eq(publishJobs.id, jobId)).run();
  }

  setStage(jobId: number, position: number, changes: Partial<PublishStage>): void {
    this.db.transaction(() => {
      this.db
        .update(publishStages)
        .set(changes)
        .where(and(eq(publishStages.jobId, jobId), eq(publishStages.position, position)))
        .run();
      this.bumpRevision.run({ id: jobId });
    });
  }

  /** The job and its stages as one consistent reading. */
  snapshot(jobId: number): JobSnapshot | null {
    return this.db.transaction(() => {
      const job = this.get(jobId);
      return job ? { job, stages: this.stagesOfJob.all({ id: jobId }) } : null;
    });
  }

  /** Closes the stage that was RUNNING and every one still PENDING, as a job ends early. */
  closeOpenStages(
    jobId: number,
    running: { state: PublishStage['state']; message: string },
    pending: { state: PublishStage['state']; message: string },
    at: Date,
  ): void {
    this.db
      .update(publishStages)
      .set({ state: running.state, finishedAt: at, message: running.message })
      .where(and(eq(publishStages.jobId, jobId), eq(publishStages.state, 'RUNNING')))
      .run();
    this.db
      .update(publishStages)
      .set({ state: pending.state, message: pending.message })
      .where(and(eq(publishStages.jobId, jobId), eq(publishStages.state, 'PENDING')))
      .run();
  }
}

