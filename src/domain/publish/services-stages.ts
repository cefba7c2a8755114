import { fileBlob } from '../../runtime/embedded/index.js';
import type { App, AppService } from '../apps.js';
import type { ClientCredentialsService } from '../client-credentials.js';
import type { BinaryCatalogue } from '../binaries/catalogue.js';
import type { EnvironmentService } from '../environments.js';
import { principalOf, requestFor, servicesRequestOf } from './job-records.js';
import type { PublishJob, StageKey } from './jobs.js';
import { StageFailure, type JobPlan, type StageContext, type StageDefinition } from './runner.js';

export const SERVICES_STAGE_TITLES: Partial<Record<StageKey, string>> = {
  VALIDATE: 'Validate the request',
  PUBLISH_IDENTITY_SERVICES: 'Publish identity services',
  PUBLISH_INTEGRATION_SERVICES: 'Publish integration services',
  DEPLOY_WEB_CLIENT: 'Deploy the web client',
  ACTIVATE: 'Activate',
  UNPUBLISH: 'Unpublish',
};

/** R36: the stages of a services and web client publish, in order. */
export const SERVICES_STAGES: StageKey[] = ['VALIDATE', 'PUBLISH_IDENTITY_SERVICES', 'PUBLISH_INTEGRATION_SERVICES', 'DEPLOY_WEB_CLIENT', 'ACTIVATE'];

/**
 * The stages services jobs run: a services and web client publish (R36-R38) and unpublishing
 * apps of both kinds (R39), each against the environment's runtime.
 */
export class ServicesStagePlans {
  constructor(
    private readonly apps: AppService,
    private readonly binaries: BinaryCatalogue,
    private readonly environments: EnvironmentService,
    private readonly credentials: ClientCredentialsService,
  ) {}

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
