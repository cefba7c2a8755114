import { and, asc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { appIdentityServices, appIntegrationServices, apps } from '../db/schema.js';
import { keysetPage, tableSource, type KeysetOrder, type Page, type PageArgs } from './pagination.js';
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

const appOrder: KeysetOrder<App> = {
  sortKey: sql`lower(${apps.name})`,
  id: apps.id,
  direction: 'asc',
  sortValue: (app) => asciiLower(app.name),
  idValue: (app) => app.id,
};

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
  constructor(private readonly db: Db) {}

  byIds(principal: Principal, ids: readonly number[]): (App | null)[] {
    const rows = this.db
      .select()
      .from(apps)
      .where(and(eq(apps.accountId, principal.accountId), inArray(apps.id, [...ids])))
      .all();
    return inIdOrder(ids, rows);
  }

  /** For jobs, which act inside their own account already. */
  byIdsUnscoped(ids: readonly number[]): (App | null)[] {
    const rows = this.db.select().from(apps).where(inArray(apps.id, [...ids])).all();
    return inIdOrder(ids, rows);
  }

  list(principal: Principal, args: PageArgs & { search?: string | null }): Page<App> {
    const conditions: (SQL | undefined)[] = [eq(apps.accountId, principal.accountId)];
    if (args.search) {
      conditions.push(sql`${apps.name} like ${`%${likeEscape(args.search.slice(0, MAX_NAME_LENGTH))}%`} escape '\\'`);
    }
    return keysetPage(
      tableSource(this.db, apps),
      appOrder,
      and(...conditions),
      args,
    );
  }

  /** Identity services of many apps in one statement, in each app's own order. */
  identityServicesOf(appIds: readonly number[]): IdentityService[] {
    return this.db
      .select()
      .from(appIdentityServices)
      .where(inArray(appIdentityServices.appId, [...appIds]))
      .orderBy(asc(appIdentityServices.appId), asc(appIdentityServices.position))
      .all();
  }

  /** Integration services of many apps in one statement, in each app's own order. */
  integrationServicesOf(appIds: readonly number[]): IntegrationService[] {
    return this.db
      .select()
      .from(appIntegrationServices)
      .where(inArray(appIntegrationServices.appId, [...appIds]))
      .orderBy(asc(appIntegrationServices.appId), asc(appIntegrationServices.position))
      .all();
  }

  create(principal: Principal, input: CreateAppInput): Result<App> {
    const problems = [
      checkName(input.name, ['input', 'name']),
      checkDescription(input.description, ['input', 'description']),
      ...checkIdentityServices(input.identityServices ?? [], ['input', 'identityServices']),
      ...checkIntegrationServices(input.integrationServices ?? [], ['input', 'integrationServices']),
    ].filter((p) => p !== null);
    if (problems.length === 0 && !appNamePattern.test(input.name))
      problems.push(userError('INVALID_INPUT', 'App name must start with a letter and hold only letters and digits', ['input', 'name']));
    if (problems.length > 0) return fail(...problems);
    const taken = this.db
      .select({ id: apps.id })
      .from(apps)
      .where(and(eq(apps.accountId, principal.accountId), sql`lower(${apps.name}) = lower(${input.name})`))
      .get();
    if (taken) return fail(userError('NAME_TAKEN', `An app named ${input.name} already exists`, ['input', 'name']));
    const app = this.db.transaction((tx) => {
      const created = tx
        .insert(apps)
        .values({ accountId: principal.accountId, name: input.name, description: input.description ?? null })
        .returning()
        .get();
      this.writeIdentityServices(tx, created.id, input.identityServices ?? []);
      this.writeIntegrationServices(tx, created.id, input.integrationServices ?? []);
      return created;
    });
    return ok(app);
  }

  /** Absent fields keep their values; identity services given replace the app's list. */
  update(principal: Principal, input: UpdateAppInput): Result<App> {
    const [app] = input.id === null ? [null] : this.byIds(principal, [input.id]);
    if (!app) return fail(notFound('app', ['input', 'id']));
    const problems = [
      checkDescription(input.description, ['input', 'description']),
      ...checkIdentityServices(input.identityServices ?? [], ['input', 'identityServices']),
      ...checkIntegrationServices(input.integrationServices ?? [], ['input', 'integrationServices']),
    ].filter((p) => p !== null);
    if (problems.length > 0) return fail(...problems);
    const updated = this.db.transaction((tx) => {
      const row =
        input.description === undefined
          ? app
          : tx.update(apps).set({ description: input.description }).where(eq(apps.id, app.id)).returning().get();
      if (input.identityServices != null) {
        tx.delete(appIdentityServices).where(eq(appIdentityServices.appId, app.id)).run();
        this.writeIdentityServices(tx, app.id, input.identityServices);
      }
      if (input.integrationServices != null) {
        tx.delete(appIntegrationServices).where(eq(appIntegrationServices.appId, app.id)).run();
        this.writeIntegrationServices(tx, app.id, input.integrationServices);
      }
      return row;
    });
    return ok(updated);
  }

  private writeIntegrationServices(tx: Pick<Db, 'insert'>, appId: number, services: IntegrationServiceInput[]): void {
    if (services.length === 0) return;
    tx.insert(appIntegrationServices)
      .values(services.map((service, position) => ({ appId, position, ...service })))
      .run();
  }

  private writeIdentityServices(tx: Pick<Db, 'insert'>, appId: number, services: IdentityServiceInput[]): void {
    if (services.length === 0) return;
    tx.insert(appIdentityServices)
      .values(services.map((service, position) => ({ appId, position, ...service })))
      .run();
  }
}
