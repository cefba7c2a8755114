import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import { oneRow, type Db } from '../db/client.js';
import { environments } from '../db/schema.js';
import { denial } from './policy.js';
import { keysetPage, tableSource, type KeysetOrder, type Page, type PageArgs } from './pagination.js';
import type { Principal } from './principal.js';
import { fail, notFound, ok, userError, type Result, type UserError } from './result.js';
import type { DomainEvents } from './events.js';
import type { JobStore } from './publish/jobs.js';
import { RuntimeRefusedError, RuntimeUnreachableError } from '../runtime/errors.js';
import type { Runtimes } from './runtimes.js';
import { asciiLower } from './validation.js';
import { inIdOrder } from './rows.js';

export type Environment = typeof environments.$inferSelect;
export type EnvironmentStatus = 'AVAILABLE' | 'BUSY' | 'UNKNOWN';

/** The console's version: every runtime component of an environment must equal it to publish (R12). */
export const CONSOLE_VERSION = '9.5.0';

export interface RuntimeVersions {
  integration: string;
  sync: string;
  messaging: string;
}

export interface CreateEnvironmentInput {
  name: string;
  url?: string | null;
  runtimeToken?: string | null;
  allowManualPublishOnly?: boolean | null;
  managementEnabled?: boolean | null;
  runtimeVersions?: RuntimeVersions | null;
}

export interface UpdateEnvironmentInput {
  id: number | null;
  runtimeToken?: string | null;
  allowManualPublishOnly?: boolean | null;
  managementEnabled?: boolean | null;
  runtimeVersions?: RuntimeVersions | null;
}


/** R8: 3-20 letters, digits and hyphens, a letter first, no hyphen at either end. */
const environmentNamePattern = /^[A-Za-z](?:[A-Za-z0-9-]{1,18}[A-Za-z0-9])$/;
/** Runtime component versions, such as 9.5.0 or 9.5.0.12. */
const runtimeVersionPattern = /^(0|[1-9]\d{0,8})(\.(0|[1-9]\d{0,8})){0,3}$/;
const MAX_URL_LENGTH = 2000;
const runtimeTokenPattern = /^[\x21-\x7e]{16,512}$/;

/**
 * RUNTIME_URL_ALLOW: host patterns (`*` matches any run of characters within the host), or none
 * for any host. Environments may point only at hosts that match one.
 */
export function hostAllowed(patterns: readonly string[], host: string): boolean {
  if (patterns.length === 0) return true;
  const lower = host.toLowerCase();
  return patterns.some((pattern) => {
    const source = pattern.toLowerCase().replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*');
    return new RegExp(`^${source}$`).test(lower);
  });
}

const environmentOrder: KeysetOrder<Environment> = {
  sortKey: sql`lower(${environments.name})`,
  id: environments.id,
  direction: 'asc',
  sortValue: (environment) => asciiLower(environment.name),
  idValue: (environment) => environment.id,
};

/**
 * R9 without the publish lock: the embedded runtime always answers; a URL environment is
 * AVAILABLE only when its last probe was answered.
 */
export function runtimeStatus(environment: Environment): EnvironmentStatus {
  if (environment.url === null) return 'AVAILABLE';
  return environment.runtimeAnswered ? 'AVAILABLE' : 'UNKNOWN';
}

/** The canonical form of a runtime URL (origin and path, no trailing slash), or a reason it is not one. */
export function normalizeRuntimeUrl(value: string): { url: string } | { problem: string } {
  if (value.length > MAX_URL_LENGTH) return { problem: `URL must be at most ${MAX_URL_LENGTH} characters` };
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return { problem: 'URL must be an absolute http or https URL' };
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    return { problem: 'URL must be an absolute http or https URL' };
  if (parsed.username || parsed.password) return { problem: 'URL must not carry credentials' };
  if (parsed.search || parsed.hash) return { problem: 'URL must not have a query or fragment' };
  return { url: `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}` };
}

function checkRuntimeVersions(versions: RuntimeVersions, field: string[]): UserError[] {
  return (Object.keys(versions) as (keyof RuntimeVersions)[])
    .filter((component) => !runtimeVersionPattern.test(versions[component]))
    .map((component) =>
      userError('INVALID_INPUT', `The ${component} version must be dot-separated numbers such as ${CONSOLE_VERSION}`, [
        ...field,
        component,
      ]),
    );
}

/** Why a probe did not count as an answer (R47), as Environment.statusReason says it. */
function probeFailure(error: unknown): string {
  if (error instanceof RuntimeRefusedError && error.code === 'UNAUTHORIZED') return 'WRONG_TOKEN: the runtime refused the runtime token';
  if (error instanceof RuntimeRefusedError) return `NOT_A_RUNTIME: the URL answers but not as a runtime (${error.message})`;
  return `UNREACHABLE: ${error instanceof Error ? error.message : 'the runtime did not answer'}`;
}

export class EnvironmentService {
  constructor(
    private readonly db: Db,
    private readonly runtimes: Runtimes,
    private readonly events: DomainEvents,
    private readonly jobs: JobStore,
    private readonly urlAllow: readonly string[] = [],
  ) {}

  /** Every environment of the account. */
  async all(principal: Principal): Promise<Environment[]> {
    return await this.db.select().from(environments).where(eq(environments.accountId, principal.accountId));
  }

  async byIds(principal: Principal, ids: readonly number[]): Promise<(Environment | null)[]> {
    const rows = await this.db
      .select()
      .from(environments)
      .where(and(eq(environments.accountId, principal.accountId), inArray(environments.id, [...ids])));
    return inIdOrder(ids, rows);
  }

  async list(principal: Principal, args: PageArgs): Promise<Page<Environment>> {
    return keysetPage(
      tableSource(this.db, environments),
      environmentOrder,
      eq(environments.accountId, principal.accountId),
      args,
    );
  }

  /** R9 for many environments in one statement: BUSY while a job is active, else the runtime's. */
  async statuses(environmentIds: readonly number[]): Promise<EnvironmentStatus[]> {
    const rows = await this.byIdsUnscoped(environmentIds);
    const active = await this.jobs.activeByEnvironment(environmentIds);
    return environmentIds.map((id, index) => {
      const environment = rows.get(id);
      if (active[index]) return 'BUSY';
      return environment ? runtimeStatus(environment) : 'UNKNOWN';
    });
  }

  /** Tells subscribers that a job made the environment BUSY, or that it is no longer (R41). */
  async announceBusy(job: { accountId: number; environmentId: number }, busy: boolean): Promise<void> {
    const environment = (await this.byIdsUnscoped([job.environmentId])).get(job.environmentId);
    if (!environment) return;
    const runtime = runtimeStatus(environment);
    this.events.publish({
      type: 'environmentStatusChanged',
      accountId: job.accountId,
      environmentId: job.environmentId,
      status: busy ? 'BUSY' : runtime,
      previousStatus: busy ? runtime : 'BUSY',
      at: new Date(),
    });
  }

  /** For jobs, which act inside their own account. */
  async byIdUnscoped(id: number): Promise<Environment | undefined> {
    return (await this.byIdsUnscoped([id])).get(id);
  }

  /**
   * The embedded environment served at `/runtime/<name>/` (R53). Names are unique per account;
   * should two accounts share one, the older environment has the path.
   */
  async embeddedByName(name: string): Promise<Environment | undefined> {
    return (await this.db
      .select()
      .from(environments)
      .where(and(eq(environments.name, name), isNull(environments.url)))
      .orderBy(asc(environments.id))
      .limit(1))[0];
  }

  private async byIdsUnscoped(ids: readonly number[]): Promise<Map<number, Environment>> {
    const rows = await this.db.select().from(environments).where(inArray(environments.id, [...ids]));
    return new Map(rows.map((row) => [row.id, row]));
  }

  async create(principal: Principal, input: CreateEnvironmentInput): Promise<Result<Environment>> {
    const forbidden = denial(principal, 'manageEnvironments');
    if (forbidden) return fail(forbidden);
    const problems: UserError[] = [];
    if (!environmentNamePattern.test(input.name))
      problems.push(
        userError(
          'INVALID_INPUT',
          'Environment name must be 3-20 letters, digits and hyphens, start with a letter and not end with a hyphen',
          ['input', 'name'],
        ),
      );
    let url: string | null = null;
    if (input.url != null) {
      const normalized = normalizeRuntimeUrl(input.url);
      if ('problem' in normalized) problems.push(userError('INVALID_INPUT', normalized.problem, ['input', 'url']));
      else if (!hostAllowed(this.urlAllow, new URL(normalized.url).hostname))
        problems.push(userError('URL_NOT_ALLOWED', 'Environments may not point at that host (RUNTIME_URL_ALLOW)', ['input', 'url']));
      else url = normalized.url;
    }
    problems.push(...this.checkToken(input.runtimeToken, url !== null));
    if (input.runtimeVersions) problems.push(...checkRuntimeVersions(input.runtimeVersions, ['input', 'runtimeVersions']));
    if (problems.length > 0) return fail(...problems);

    const versions = input.runtimeVersions ?? { integration: CONSOLE_VERSION, sync: CONSOLE_VERSION, messaging: CONSOLE_VERSION };
    // Checked inside the transaction that writes: two creates cannot both find the name or URL free.
    return this.db.transaction(async (tx): Promise<Result<Environment>> => {
      const [nameTaken] = await tx
        .select({ id: environments.id })
        .from(environments)
        .where(and(eq(environments.accountId, principal.accountId), sql`lower(${environments.name}) = lower(${input.name})`))
        .limit(1);
      if (nameTaken) problems.push(userError('NAME_TAKEN', `An environment named ${input.name} already exists`, ['input', 'name']));
      // R8 within the account: another account's environments must not be detectable (R6).
      const [urlTaken] =
        url === null
          ? []
          : await tx.select({ id: environments.id }).from(environments).where(and(eq(environments.accountId, principal.accountId), eq(environments.url, url))).limit(1);
      if (urlTaken) problems.push(userError('URL_TAKEN', `${url} already belongs to an environment of this account`, ['input', 'url']));
      if (problems.length > 0) return fail(...problems);
      const environment = oneRow(
        await tx
          .insert(environments)
          .values({
            accountId: principal.accountId,
            name: input.name,
            url,
            allowManualPublishOnly: input.allowManualPublishOnly ?? false,
            managementEnabled: input.managementEnabled ?? false,
            integrationVersion: versions.integration,
            syncVersion: versions.sync,
            messagingVersion: versions.messaging,
            runtimeToken: url === null ? null : (input.runtimeToken ?? null),
          })
          .returning(),
      );
      return ok(environment);
    });
  }

  /** Name and URL are immutable (R8); absent fields keep their values. */
  async update(principal: Principal, input: UpdateEnvironmentInput): Promise<Result<Environment>> {
    const forbidden = denial(principal, 'manageEnvironments');
    if (forbidden) return fail(forbidden);
    const [environment] = input.id === null ? [null] : await this.byIds(principal, [input.id]);
    if (!environment) return fail(notFound('environment', ['input', 'id']));
    const problems = [
      ...(input.runtimeVersions ? checkRuntimeVersions(input.runtimeVersions, ['input', 'runtimeVersions']) : []),
      ...this.checkToken(input.runtimeToken, environment.url !== null),
    ];
    if (problems.length > 0) return fail(...problems);
    const changes: Partial<Environment> = {};
    if (input.runtimeToken != null) changes.runtimeToken = input.runtimeToken;
    if (input.allowManualPublishOnly != null) changes.allowManualPublishOnly = input.allowManualPublishOnly;
    if (input.managementEnabled != null) changes.managementEnabled = input.managementEnabled;
    if (input.runtimeVersions) {
      changes.integrationVersion = input.runtimeVersions.integration;
      changes.syncVersion = input.runtimeVersions.sync;
      changes.messagingVersion = input.runtimeVersions.messaging;
    }
    if (Object.keys(changes).length === 0) return ok(environment);
    return ok(oneRow(await this.db.update(environments).set(changes).where(eq(environments.id, environment.id)).returning()));
  }

  /** Removes the environment and, by cascade, its directory and Management data (R13). */
  async delete(principal: Principal, id: number | null): Promise<Result<number>> {
    const forbidden = denial(principal, 'manageEnvironments');
    if (forbidden) return fail(forbidden);
    const [environment] = id === null ? [null] : await this.byIds(principal, [id]);
    if (!environment) return fail(notFound('environment', ['input', 'id']));
    // Checked and deleted in one synchronous transaction, so no job can start in between.
    const deleted = await this.db.transaction(async () => {
      if ((await this.jobs.activeByEnvironment([environment.id]))[0]) return false;
      await this.db.delete(environments).where(eq(environments.id, environment.id));
      await this.runtimes.forget(environment);
      return true;
    });
    if (!deleted)
      return fail(userError('ENVIRONMENT_BUSY', 'A publish job is active in this environment; wait for it or cancel it first', ['input', 'id']));
    return ok(environment.id);
  }

  /** TEST CONNECTION: probes now and returns the environment with its fresh status. */
  async check(principal: Principal, id: number | null): Promise<Result<Environment>> {
    const forbidden = denial(principal, 'checkEnvironment');
    if (forbidden) return fail(forbidden);
    const [environment] = id === null ? [null] : await this.byIds(principal, [id]);
    if (!environment) return fail(notFound('environment', ['input', 'id']));
    return ok(await this.probeOne(environment));
  }

  /** Probes every URL environment of every account at once: at start and every 30 s (R9). */
  async probeAll(): Promise<void> {
    const remote = await this.db.select().from(environments).where(sql`${environments.url} is not null`);
    await Promise.all(remote.map((environment) => this.probeOne(environment)));
  }

  private async probeOne(environment: Environment): Promise<Environment> {
    if (environment.url === null) return environment;
    // R47: the URL must answer as a runtime, with the token, before anything else is read from it.
    const probe = await this.runtimes.of(environment).info().then(
      (info) => ({ answered: true, reason: null, versions: info.versions }),
      (error: unknown) => {
        // Anything else than a runtime's failure is a bug here, not the runtime's status.
        if (!(error instanceof RuntimeRefusedError || error instanceof RuntimeUnreachableError)) throw error;
        return { answered: false, reason: probeFailure(error), versions: null };
      },
    );
    // Read and write in one transaction so that overlapping probes each see the true previous
    // status; the row may also have been deleted while the probe was out.
    const recorded = await this.db.transaction(async (tx) => {
      const before = (await tx.select().from(environments).where(eq(environments.id, environment.id)).limit(1))[0];
      if (!before) return null;
      const after = oneRow(await tx
        .update(environments)
        .set({
          runtimeAnswered: probe.answered,
          statusReason: probe.reason,
          statusCheckedAt: new Date(),
          ...(probe.versions
            ? { integrationVersion: probe.versions.integration, syncVersion: probe.versions.sync, messagingVersion: probe.versions.messaging }
            : {}),
        })
        .where(eq(environments.id, environment.id))
        .returning());
      return { before, after };
    });
    if (!recorded) return environment;
    const previousStatus = runtimeStatus(recorded.before);
    const status = runtimeStatus(recorded.after);
    // While a job runs the environment stays BUSY whatever the runtime answers.
    const busy = (await this.jobs.activeByEnvironment([environment.id]))[0] !== null;
    if (status !== previousStatus && !busy)
      this.events.publish({
        type: 'environmentStatusChanged',
        accountId: recorded.after.accountId,
        environmentId: environment.id,
        status,
        previousStatus,
        at: recorded.after.statusCheckedAt ?? new Date(),
      });
    return recorded.after;
  }

  private checkToken(token: string | null | undefined, hasUrl: boolean): UserError[] {
    if (token == null) return [];
    if (!hasUrl) return [userError('INVALID_INPUT', 'Only an environment with a URL has a runtime token', ['input', 'runtimeToken'])];
    if (!runtimeTokenPattern.test(token))
      return [userError('INVALID_INPUT', 'A runtime token is 16-512 printable ASCII characters without spaces', ['input', 'runtimeToken'])];
    return [];
  }
}
