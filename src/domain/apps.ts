import { and, asc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { isUniqueViolation, oneRow, type Db } from '../db/client.js';
import { appIdentityServices, appIntegrationServices, apps, binaryUploads, clientBinaries, publishJobs } from '../db/schema.js';
import { releaseBlob } from './binaries/blob-collection.js';
import type { BlobStore } from './binaries/blob-store.js';
import { chooseOrder, keysetPage, tableSource, type KeysetOrder, type OrderBy, type Page, type PageArgs } from './pagination.js';
import { denial } from './policy.js';
import type { Principal } from './principal.js';
import { fail, notFound, ok, userError, type Result, type UserError } from './result.js';
import { asciiLower, checkDescription, checkName, likeEscape, MAX_NAME_LENGTH } from './validation.js';
import { inIdOrder } from './rows.js';

export type App = typeof apps.$inferSelect;
export type IdentityService = typeof appIdentityServices.$inferSelect;

export type IntegrationService = typeof appIntegrationServices.$inferSelect;

export interface IntegrationServiceInput {
  name: string;
  baseUrl: string;
}

export interface IdentityServiceInput {
  name: string;
  providerType: string;
}

export interface CreateAppInput {
  name: string;
  description?: string | null;
  identityServices?: IdentityServiceInput[] | null;
  integrationServices?: IntegrationServiceInput[] | null;
}

export interface UpdateAppInput {
  id: number | null;
  description?: string | null;
  identityServices?: IdentityServiceInput[] | null;
  integrationServices?: IntegrationServiceInput[] | null;
}

/** Volt MX app names: a letter, then letters and digits; `<name>_preview` names its preview. */
const appNamePattern = /^[A-Za-z][A-Za-z0-9]*$/;
const MAX_IDENTITY_SERVICES = 50;

export type AppOrderField = 'NAME' | 'CREATED_AT' | 'UPDATED_AT';

const appOrders: Record<AppOrderField, Omit<KeysetOrder<App>, 'name' | 'direction'>> = {
  NAME: { sortKey: sql`lower(${apps.name})`, id: apps.id, sortValue: (app) => asciiLower(app.name), idValue: (app) => app.id },
  CREATED_AT: { sortKey: apps.createdAt, id: apps.id, sortValue: (app) => app.createdAt.getTime(), idValue: (app) => app.id },
  UPDATED_AT: {
    sortKey: sql`coalesce(${apps.updatedAt}, ${apps.createdAt})`,
    id: apps.id,
    sortValue: (app) => (app.updatedAt ?? app.createdAt).getTime(),
    idValue: (app) => app.id,
  },
};

const defaultAppOrder: KeysetOrder<App> = { ...appOrders.NAME, direction: 'asc' };

/** Names of the environments where an app is published, or a publish of it is under way. */
export type PublishedCheck = (principal: Principal, appId: number) => Promise<string[]>;

function checkIdentityServices(services: IdentityServiceInput[], field: string[]): UserError[] {
  if (services.length > MAX_IDENTITY_SERVICES)
    return [userError('LIMIT_EXCEEDED', `An app uses at most ${MAX_IDENTITY_SERVICES} identity services`, field)];
  const problems: UserError[] = [];
  const seen = new Set<string>();
  services.forEach((service, index) => {
    const at = [...field, String(index)];
    const nameProblem = checkName(service.name, [...at, 'name'], 'Identity service name');
    const typeProblem = checkName(service.providerType, [...at, 'providerType'], 'Provider type');
    if (nameProblem) problems.push(nameProblem);
    if (typeProblem) problems.push(typeProblem);
    const key = asciiLower(service.name);
    if (seen.has(key)) problems.push(userError('INVALID_INPUT', `Identity service ${service.name} is listed twice`, [...at, 'name']));
    seen.add(key);
  });
  return problems;
}

const MAX_URL_LENGTH = 2000;

function checkIntegrationServices(services: IntegrationServiceInput[], field: string[]): UserError[] {
  if (services.length > MAX_IDENTITY_SERVICES)
    return [userError('LIMIT_EXCEEDED', `An app calls at most ${MAX_IDENTITY_SERVICES} integration services`, field)];
  const problems: UserError[] = [];
  const seen = new Set<string>();
  services.forEach((service, index) => {
    const at = [...field, String(index)];
    const nameProblem = checkName(service.name, [...at, 'name'], 'Integration service name');
    if (nameProblem) problems.push(nameProblem);
    let url: URL | null = null;
    try {
      url = service.baseUrl.length <= MAX_URL_LENGTH ? new URL(service.baseUrl) : null;
    } catch {
      url = null;
    }
    if (!url || !['http:', 'https:'].includes(url.protocol) || url.username || url.password)
      problems.push(userError('INVALID_INPUT', `Base URL must be an http(s) URL of at most ${MAX_URL_LENGTH} characters, without credentials`, [...at, 'baseUrl']));
    const key = asciiLower(service.name);
    if (seen.has(key)) problems.push(userError('INVALID_INPUT', `Integration service ${service.name} is listed twice`, [...at, 'name']));
    seen.add(key);
  });
  return problems;
}

export class AppService {
  private publishedIn: PublishedCheck = async () => [];

  constructor(
    private readonly db: Db,
    private readonly store: BlobStore,
  ) {}

  /** The runtimes tell where an app is published, which blocks its deletion. */
  setPublishedCheck(check: PublishedCheck): void {
    this.publishedIn = check;
  }

  async byIds(principal: Principal, ids: readonly number[]): Promise<(App | null)[]> {
    const rows = await this.db
      .select()
      .from(apps)
      .where(and(eq(apps.accountId, principal.accountId), inArray(apps.id, [...ids])));
    return inIdOrder(ids, rows);
  }

  /** For jobs, which act inside their own account already. */
  async byIdsUnscoped(ids: readonly number[]): Promise<(App | null)[]> {
    const rows = await this.db.select().from(apps).where(inArray(apps.id, [...ids]));
    return inIdOrder(ids, rows);
  }

  async list(principal: Principal, args: PageArgs & { search?: string | null; orderBy?: OrderBy<AppOrderField> | null }): Promise<Page<App>> {
    const conditions: (SQL | undefined)[] = [eq(apps.accountId, principal.accountId)];
    if (args.search) {
      conditions.push(sql`lower(${apps.name}) like lower(${`%${likeEscape(args.search.slice(0, MAX_NAME_LENGTH))}%`}) escape '\\'`);
    }
    return keysetPage(
      tableSource(this.db, apps),
      args.orderBy ? chooseOrder(appOrders, args.orderBy) : defaultAppOrder,
      and(...conditions),
      args,
    );
  }

  /** Identity services of many apps in one statement, in each app's own order. */
  async identityServicesOf(appIds: readonly number[]): Promise<IdentityService[]> {
    return await this.db
      .select()
      .from(appIdentityServices)
      .where(inArray(appIdentityServices.appId, [...appIds]))
      .orderBy(asc(appIdentityServices.appId), asc(appIdentityServices.position));
  }

  /** Integration services of many apps in one statement, in each app's own order. */
  async integrationServicesOf(appIds: readonly number[]): Promise<IntegrationService[]> {
    return await this.db
      .select()
      .from(appIntegrationServices)
      .where(inArray(appIntegrationServices.appId, [...appIds]))
      .orderBy(asc(appIntegrationServices.appId), asc(appIntegrationServices.position));
  }

  async create(principal: Principal, input: CreateAppInput): Promise<Result<App>> {
    const forbidden = denial(principal, 'manageApps');
    if (forbidden) return fail(forbidden);
    const problems = [
      checkName(input.name, ['input', 'name']),
      checkDescription(input.description, ['input', 'description']),
      ...checkIdentityServices(input.identityServices ?? [], ['input', 'identityServices']),
      ...checkIntegrationServices(input.integrationServices ?? [], ['input', 'integrationServices']),
    ].filter((p) => p !== null);
    if (problems.length === 0 && !appNamePattern.test(input.name))
      problems.push(userError('INVALID_INPUT', 'App name must start with a letter and hold only letters and digits', ['input', 'name']));
    if (problems.length > 0) return fail(...problems);
    // The name is checked inside the transaction that writes it: on SQLite transactions take
    // turns, so two creates cannot both find it free; on PostgreSQL the unique index decides
    // between two that both did.
    const taken = () => fail(userError('NAME_TAKEN', `An app named ${input.name} already exists`, ['input', 'name']));
    return this.db.transaction(async (tx): Promise<Result<App>> => {
      const [found] = await tx
        .select({ id: apps.id })
        .from(apps)
        .where(and(eq(apps.accountId, principal.accountId), sql`lower(${apps.name}) = lower(${input.name})`))
        .limit(1);
      if (found) return taken();
      const created = oneRow(
        await tx.insert(apps).values({ accountId: principal.accountId, name: input.name, description: input.description ?? null }).returning(),
      );
      await this.writeIdentityServices(tx, created.id, input.identityServices ?? []);
      await this.writeIntegrationServices(tx, created.id, input.integrationServices ?? []);
      return ok(created);
    }).catch((error: unknown) => {
      if (isUniqueViolation(error, 'apps_account_name_unique')) return taken();
      throw error;
    });
  }

  /** Absent fields keep their values; identity or integration services given replace the app's list. */
  async update(principal: Principal, input: UpdateAppInput): Promise<Result<App>> {
    const forbidden = denial(principal, 'manageApps');
    if (forbidden) return fail(forbidden);
    const [app] = input.id === null ? [null] : await this.byIds(principal, [input.id]);
    if (!app) return fail(notFound('app', ['input', 'id']));
    const problems = [
      checkDescription(input.description, ['input', 'description']),
      ...checkIdentityServices(input.identityServices ?? [], ['input', 'identityServices']),
      ...checkIntegrationServices(input.integrationServices ?? [], ['input', 'integrationServices']),
    ].filter((p) => p !== null);
    if (problems.length > 0) return fail(...problems);
    const updated = await this.db.transaction(async (tx) => {
      if (input.description === undefined && input.identityServices == null && input.integrationServices == null) return app;
      // Identity and integration services live in their own tables; the app row is stamped either way.
      const row = oneRow(await tx
        .update(apps)
        .set(input.description === undefined ? { updatedAt: new Date() } : { description: input.description })
        .where(eq(apps.id, app.id))
        .returning());
      if (input.identityServices != null) {
        await tx.delete(appIdentityServices).where(eq(appIdentityServices.appId, app.id));
        await this.writeIdentityServices(tx, app.id, input.identityServices);
      }
      if (input.integrationServices != null) {
        await tx.delete(appIntegrationServices).where(eq(appIntegrationServices.appId, app.id));
        await this.writeIntegrationServices(tx, app.id, input.integrationServices);
      }
      return row;
    });
    return ok(updated);
  }

  /**
   * Deletes an app with its binaries, uploads and job history. Refused while it is published
   * anywhere or a publish of it is under way: unpublish it first.
   */
  async delete(principal: Principal, id: number | null): Promise<Result<number>> {
    const forbidden = denial(principal, 'manageApps');
    if (forbidden) return fail(forbidden);
    const [app] = id === null ? [null] : await this.byIds(principal, [id]);
    if (!app) return fail(notFound('app', ['input', 'id']));
    const stillPublished = (where: string[]) =>
      fail(userError('APP_PUBLISHED', `${app.name} is still published in ${where.join(', ')}; unpublish it there first`, ['input', 'id']));
    // The runtimes are asked first; only a publish job can change what they hold, and the
    // transaction below refuses while one of this app is active, so nothing changes in between.
    const publishedIn = await this.publishedIn(principal, app.id);
    if (publishedIn.length > 0) return stillPublished(publishedIn);
    const outcome = await this.db.transaction(async (tx) => {
        const active = (await tx
          .select({ id: publishJobs.id })
          .from(publishJobs)
          .where(and(eq(publishJobs.appId, app.id), inArray(publishJobs.state, ['QUEUED', 'RUNNING', 'CANCELING'])))
          .limit(1))[0];
        if (active) return { underWay: true, unreferenced: [] };
        const held = [
          ...await tx.selectDistinct({ sha256: clientBinaries.sha256 }).from(clientBinaries).where(eq(clientBinaries.appId, app.id)),
          ...await tx.selectDistinct({ sha256: binaryUploads.sha256 }).from(binaryUploads).where(eq(binaryUploads.appId, app.id)),
        ].flatMap((row) => (row.sha256 === null ? [] : [row.sha256]));
        await tx.delete(apps).where(eq(apps.id, app.id));
        const unreferenced: string[] = [];
        for (const sha256 of new Set(held)) if (await releaseBlob(tx, sha256)) unreferenced.push(sha256);
        return { underWay: false, unreferenced };
    });
    if (outcome.underWay) return stillPublished(['an environment where a publish of it is under way']);
    for (const sha256 of outcome.unreferenced) this.store.remove(sha256);
    return ok(app.id);
  }

  private async writeIntegrationServices(tx: Pick<Db, 'insert'>, appId: number, services: IntegrationServiceInput[]): Promise<void> {
    if (services.length === 0) return;
    await tx.insert(appIntegrationServices)
      .values(services.map((service, position) => ({ appId, position, ...service })));
  }

  private async writeIdentityServices(tx: Pick<Db, 'insert'>, appId: number, services: IdentityServiceInput[]): Promise<void> {
    if (services.length === 0) return;
    await tx.insert(appIdentityServices)
      .values(services.map((service, position) => ({ appId, position, ...service })));
  }
}
