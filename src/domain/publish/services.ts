import { fileBlob } from '../../runtime/embedded/index.js';
import type { PublishedIdentityService, ServicesState } from '../../runtime/types.js';
import type { App, AppService } from '../apps.js';
import type { ClientCredentials, ClientCredentialsService } from '../client-credentials.js';
import type { BinaryCatalogue } from '../binaries/catalogue.js';
import type { Environment, EnvironmentService } from '../environments.js';
import type { Principal } from '../principal.js';
import { denial } from '../policy.js';
import { fail, notFound, ok, userError, type Result } from '../result.js';
import { RuntimeRefusedError, RuntimeUnreachableError } from '../../runtime/errors.js';
import { busy } from './service.js';
import type { Runtimes } from '../runtimes.js';
import type { PublishJob, PublishKind, StageKey } from './jobs.js';
import { principalOf, requestFor, servicesRequestOf, type ServicesRequest, type UnpublishRequest } from './job-records.js';
import { StageFailure, type JobPlan, type StageContext, type StageDefinition } from './runner.js';
import type { PublishService } from './service.js';

export const SERVICES_STAGE_TITLES: Partial<Record<StageKey, string>> = {
  VALIDATE: 'Validate the request',
  PUBLISH_IDENTITY_SERVICES: 'Publish identity services',
  PUBLISH_INTEGRATION_SERVICES: 'Publish integration services',
  DEPLOY_WEB_CLIENT: 'Deploy the web client',
  ACTIVATE: 'Activate',
  UNPUBLISH: 'Unpublish',
};

const SERVICES_STAGES: StageKey[] = ['VALIDATE', 'PUBLISH_IDENTITY_SERVICES', 'PUBLISH_INTEGRATION_SERVICES', 'DEPLOY_WEB_CLIENT', 'ACTIVATE'];

const stageList = (keys: StageKey[]) => keys.map((key) => ({ key, title: SERVICES_STAGE_TITLES[key] ?? key }));

/** Services and web client publishing (R36-R38) and unpublishing apps of both kinds (R39). */
export class ServicesPublishing {
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

  publishPlan(): JobPlan {
    return {
      restoreScope: (job) => ({ jobId: job.id, management: [], services: { appId: job.appId } }),
      stages: (job) => this.servicesStages(job),
    };
  }

  unpublishServicesPlan(): JobPlan {
    return {
      restoreScope: (job) => ({ jobId: job.id, management: [], services: { appId: job.appId } }),
      stages: (job) => [
        this.validateStage('services and web client'),
        {
          key: 'UNPUBLISH',
          run: async (context) => {
            const { removedIdentityServices: removed } = await context.runtime.run(context.key('unpublish'), { type: 'unpublishServices', appId: job.appId });
            return {
              message: `Services and web client removed${removed.length > 0 ? `; identity services no other app uses removed: ${removed.join(', ')}` : '; every identity service is still used by another app'}`,
            };
          },
        },
      ],
    };
  }

  /** R39: NATIVE_CLIENT unpublishing removes the production and preview Management apps. */
  unpublishNativePlan(): JobPlan {
    return {
      restoreScope: (job) => ({ jobId: job.id, management: [false, true].map((preview) => ({ appId: job.appId, preview })), services: null }),
      stages: (job) => [
        this.validateStage('Management apps'),
        {
          key: 'UNPUBLISH',
          run: async (context) => {
            const { removed } = await context.runtime.run(context.key('unpublish'), { type: 'removeManagementApps', appId: job.appId });
            return { message: `Removed ${removed} Management apps (production and preview)` };
          },
        },
      ],
    };
  }

  private validateStage(what: string): StageDefinition {
    return {
      key: 'VALIDATE',
      run: async (context) => {
        await context.runtime.info();
        return { message: `Unpublish the ${what}` };
      },
    };
  }

  private servicesStages(job: PublishJob): StageDefinition[] {
    const request = requestFor(servicesRequestOf(job), job);
    const principal = principalOf(job);
    const app = (context: StageContext) => context.carry.get('app') as App;
    return [
      {
        key: 'VALIDATE',
        run: async (context) => {
          const [current] = await this.apps.byIds(principal, [job.appId]);
          if (!current) throw new StageFailure('NOT_FOUND', 'The app is gone');
          context.carry.set('app', current);
          if (request.webClientBinaryId !== null && !(await this.binaries.byIds(principal, [request.webClientBinaryId]))[0])
            throw new StageFailure('NOT_FOUND', 'The web client binary of this publish was deleted');
          await context.runtime.info();
          return { message: `Publish ${current.name}` };
        },
      },
      {
        key: 'PUBLISH_IDENTITY_SERVICES',
        run: async (context) => {
          const services = await this.apps.identityServicesOf([job.appId]);
          context.carry.set('identityServices', services.map((service) => service.name));
          if (services.length === 0) return { skipped: `${app(context).name} uses no identity services` };
          await context.runtime.run(context.key('publish'), {
            type: 'publishIdentityServices',
            appId: job.appId,
            jobId: job.id,
            services: services.map((service) => ({ name: service.name, providerType: service.providerType })),
          });
          return { message: `Published ${services.map((service) => `${service.name} (${service.providerType})`).join(', ')}` };
        },
      },
      {
        key: 'PUBLISH_INTEGRATION_SERVICES',
        run: async (context) => {
          const names = (context.carry.get('identityServices') ?? []) as string[];
          const integrationServices = (await this.apps.integrationServicesOf([job.appId])).map(({ name, baseUrl }) => ({ name, baseUrl }));
          await context.runtime.run(context.key('publish'), {
            type: 'publishAppServices',
            appId: job.appId,
            appName: app(context).name,
            jobId: job.id,
            identityServices: names,
            integrationServices,
          });
          await this.credentials.ensure(job.appId, job.environmentId, context.runtime, context.key('credentials'));
          return { message: `Integration services of ${app(context).name} published` };
        },
      },
      {
        key: 'DEPLOY_WEB_CLIENT',
        run: async (context) => {
          if (request.webClientBinaryId === null) return { skipped: 'No web client binary was given' };
          const [environment] = await this.environments.byIds(principal, [job.environmentId]);
          if (environment?.allowManualPublishOnly)
            return { skipped: `${environment.name} allows manual publish only: deploy the web client by hand` };
          const [web] = await this.binaries.byIds(principal, [request.webClientBinaryId]);
          if (!web) throw new StageFailure('NOT_FOUND', 'The web client binary of this publish was deleted');
          // R48: sent unless the runtime holds it, verified by SHA-256 on arrival.
          if (!(await context.runtime.hasBlob(web.sha256)))
            await context.runtime.putBlob(fileBlob(this.binaries.pathOf(web), web.sha256, web.sizeBytes), context.restorePoint);
          await context.runtime.run(context.key('deploy'), { type: 'deployWebClient', appId: job.appId, jobId: job.id, binaryId: web.id, artifactSha256: web.sha256 });
          return { message: `Web client ${web.version} (${web.fileName}) is live` };
        },
      },
      {
        key: 'ACTIVATE',
        run: async (context) => {
          await context.runtime.run(context.key('activate'), { type: 'activate', appId: job.appId });
          return { message: `${app(context).name} is live` };
        },
      },
    ];
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
