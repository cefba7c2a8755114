import type { PublishedIdentityService, ServicesState } from '../../runtime/types.js';
import { RuntimeRefusedError, RuntimeUnreachableError } from '../../runtime/errors.js';
import type { App, AppService } from '../apps.js';
import type { ClientCredentials, ClientCredentialsService } from '../client-credentials.js';
import type { BinaryCatalogue } from '../binaries/catalogue.js';
import type { Environment, EnvironmentService } from '../environments.js';
import type { Principal } from '../principal.js';
import { denial } from '../policy.js';
import { fail, notFound, ok, userError, type Result } from '../result.js';
import type { Runtimes } from '../runtimes.js';
import type { ServicesRequest, UnpublishRequest } from './job-records.js';
import type { PublishJob, PublishKind, StageKey } from './jobs.js';
import { busy, type PublishService } from './publishing.js';
import { SERVICES_STAGES, SERVICES_STAGE_TITLES } from './services-stages.js';

const stageList = (keys: StageKey[]) => keys.map((key) => ({ key, title: SERVICES_STAGE_TITLES[key] ?? key }));

/**
 * Services and web client publish requests (R36-R38), unpublish requests for apps of both kinds
 * (R39) and app secrets (R54): each is checked before there is a job, then stored as the job's
 * request (job-records.ts) for the stages in services-stages.ts to run.
 */
export class ServicesRequests {
  constructor(
    private readonly publish: PublishService,
    private readonly apps: AppService,
    private readonly binaries: BinaryCatalogue,
    private readonly environments: EnvironmentService,
    private readonly runtimes: Runtimes,
    private readonly credentials: ClientCredentialsService,
  ) {}

  async publishServicesAndWeb(
    principal: Principal,
    input: { appId: number | null; environmentId: number | null; webClientBinaryId?: number | null; webClientBinaryGiven: boolean; sync?: boolean | null },
  ): Promise<Result<PublishJob>> {
    const forbidden = denial(principal, 'publishServicesAndWeb');
    if (forbidden) return fail(forbidden);
    const target = await this.publish.target(principal, input.appId, input.environmentId);
    if (!target.ok) return target;
    const { app, environment, warnings } = target.value;
    let webClientBinaryId: number | null = null;
    if (input.webClientBinaryGiven) {
      const [web] = input.webClientBinaryId == null ? [null] : await this.binaries.byIds(principal, [input.webClientBinaryId]);
      if (!web || web.appId !== app.id)
        return fail(userError('NOT_FOUND', `No client binary of ${app.name} with that id`, ['input', 'webClientBinaryId']));
      if (web.platform !== 'WEB')
        return fail(userError('INVALID_INPUT', `A web client is a WEB binary, not ${web.platform}`, ['input', 'webClientBinaryId']));
      webClientBinaryId = web.id;
    }
    const names = (await this.apps.identityServicesOf([app.id])).map((service) => service.name);
    const [held] = await this.runtimes.servicesOf([environment]);
    const others = otherUsers(held, app.id, names);
    if (others.length > 0) {
      const otherNames = (await this.apps.byIds(principal, others)).map((other) => other?.name).filter(Boolean);
      warnings.push(
        `IDENTITY_SERVICES_SHARED: this publish redefines identity services that ${otherNames.join(', ')} also use in ${environment.name}`,
      );
    }
    return this.publish.start(principal, {
      appId: app.id,
      environmentId: environment.id,
      kind: 'SERVICES_AND_WEB',
      action: 'PUBLISH',
      sync: input.sync ?? false,
      request: { webClientBinaryId } satisfies ServicesRequest,
      warnings,
      stages: stageList(SERVICES_STAGES),
    });
  }

  /** R39: a job with stage UNPUBLISH; NOTHING_TO_PUBLISH when nothing of that kind is there. */
  async unpublishApp(
    principal: Principal,
    input: { appId: number | null; environmentId: number | null; kind: PublishKind; sync?: boolean | null },
  ): Promise<Result<PublishJob>> {
    const forbidden = denial(principal, 'unpublish', { kind: input.kind });
    if (forbidden) return fail(forbidden);
    const target = await this.publish.target(principal, input.appId, input.environmentId);
    if (!target.ok) return target;
    const { app, environment, warnings } = target.value;
    const published =
      input.kind === 'SERVICES_AND_WEB'
        ? (await this.runtimes.servicesOf([environment])).some((held) => [...held.appServices, ...held.webClients].some((row) => row.appId === app.id))
        : (await this.runtimes.managementOf([environment])).some((apps) => apps.some((one) => one.appId === app.id));
    if (!published)
      return fail(userError('NOTHING_TO_PUBLISH', `${app.name} has no ${input.kind === 'SERVICES_AND_WEB' ? 'services or web client' : 'Management apps'} in ${environment.name}`, ['input', 'kind']));
    return this.publish.start(principal, {
      appId: app.id,
      environmentId: environment.id,
      kind: input.kind,
      action: 'UNPUBLISH',
      sync: input.sync ?? false,
      request: { kind: input.kind } satisfies UnpublishRequest,
      warnings,
      stages: stageList(['VALIDATE', 'UNPUBLISH']),
    });
  }

  /**
   * R54: a new app secret for the app in the environment; the old one stops working at once.
   * Refused while a job runs there, whose services publish would tell the runtime the old one.
   */
  async rotateAppSecret(
    principal: Principal,
    input: { appId: number | null; environmentId: number | null },
  ): Promise<Result<{ credentials: ClientCredentials; app: App; environment: Environment }>> {
    const forbidden = denial(principal, 'manageAppSecrets');
    if (forbidden) return fail(forbidden);
    const [app] = input.appId === null ? [null] : await this.apps.byIds(principal, [input.appId]);
    const [environment] = input.environmentId === null ? [null] : await this.environments.byIds(principal, [input.environmentId]);
    if (!app || !environment)
      return fail(...(!app ? [notFound('app', ['input', 'appId'])] : []), ...(!environment ? [notFound('environment', ['input', 'environmentId'])] : []));
    if ((await this.environments.statuses([environment.id]))[0] === 'BUSY') return fail(busy());
    try {
      const rotated = await this.credentials.rotate(app.id, environment.id, this.runtimes.of(environment));
      if (!rotated)
        return fail(userError('NOT_FOUND', `${app.name} has no app key in ${environment.name} yet: publish its services there first`, ['input', 'appId']));
      return ok({ credentials: rotated, app, environment });
    } catch (error) {
      if (error instanceof RuntimeUnreachableError || error instanceof RuntimeRefusedError)
        return fail(userError('RUNTIME_UNREACHABLE', `The runtime of ${environment.name} did not take the new secret; the old one still works`, ['input', 'environmentId']));
      throw error;
    }
  }

  /** R37: each environment's identity services with the apps there that use them, by app id. */
  async identityServicesWithUsers(principal: Principal, environmentIds: readonly number[]): Promise<{ service: PublishedIdentityService; usedBy: number[] }[][]> {
    const environments = await this.environments.byIds(principal, environmentIds);
    const held = await this.runtimes.servicesOf(environments.filter((environment): environment is Environment => environment !== null));
    let next = 0;
    return environments.map((environment) => {
      if (!environment) return [];
      const state = held[next++];
      return (state?.identityServices ?? []).map((service) => ({
        service,
        usedBy: (state?.appServices ?? [])
          .filter((publication) => publication.identityServices.some((name) => name.toLowerCase() === service.name.toLowerCase()))
          .map((publication) => publication.appId)
          .sort((a, b) => a - b),
      }));
    });
  }
}

/** Other apps of the environment whose publications use any of these identity services (R37). */
export function otherUsers(held: ServicesState | undefined, appId: number, names: string[]): number[] {
  const wanted = new Set(names.map((name) => name.toLowerCase()));
  return (held?.appServices ?? [])
    .filter((publication) => publication.appId !== appId)
    .filter((publication) => publication.identityServices.some((name) => wanted.has(name.toLowerCase())))
    .map((publication) => publication.appId);
}
