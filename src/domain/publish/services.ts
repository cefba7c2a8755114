import type { App, AppService } from '../apps.js';
import type { BinaryService } from '../binaries/service.js';
import type { EnvironmentService } from '../environments.js';
import type { ManagementAppSnapshot, ManagementService } from '../management.js';
import type { Principal } from '../principal.js';
import { denial } from '../policy.js';
import { fail, userError, type Result } from '../result.js';
import { ServicesRuntime, type ServicesSnapshot } from '../services-runtime.js';
import type { Db } from '../../db/client.js';
import { hashFile } from './artifacts.js';
import type { PublishJob, PublishKind, StageKey } from './jobs.js';
import { principalOf } from './native.js';
import { StageFailure, type JobPlan, type StageContext, type StageDefinition } from './runner.js';
import type { PublishService } from './service.js';

export interface ServicesRequest {
  webClientBinaryId: number | null;
}

export interface UnpublishRequest {
  kind: PublishKind;
}

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
    private readonly db: Db,
    private readonly publish: PublishService,
    private readonly apps: AppService,
    private readonly binaries: BinaryService,
    private readonly environments: EnvironmentService,
    private readonly runtime: ServicesRuntime,
    private readonly management: ManagementService,
  ) {}

  async publishServicesAndWeb(
    principal: Principal,
    input: { appId: number | null; environmentId: number | null; webClientBinaryId?: number | null; webClientBinaryGiven: boolean; sync?: boolean | null },
  ): Promise<Result<PublishJob>> {
    const forbidden = denial(principal, 'publishServicesAndWeb');
    if (forbidden) return fail(forbidden);
    const target = this.publish.target(principal, input.appId, input.environmentId);
    if (!target.ok) return target;
    const { app, environment, warnings } = target.value;
    let webClientBinaryId: number | null = null;
    if (input.webClientBinaryGiven) {
      const [web] = input.webClientBinaryId == null ? [null] : this.binaries.byIds(principal, [input.webClientBinaryId]);
      if (!web || web.appId !== app.id)
        return fail(userError('NOT_FOUND', `No client binary of ${app.name} with that id`, ['input', 'webClientBinaryId']));
      if (web.platform !== 'WEB')
        return fail(userError('INVALID_INPUT', `A web client is a WEB binary, not ${web.platform}`, ['input', 'webClientBinaryId']));
      webClientBinaryId = web.id;
    }
    const names = (this.apps.identityServicesOf([app.id])).map((service) => service.name);
    const others = this.runtime.otherUsers(environment.id, app.id, names);
    if (others.length > 0) {
      const otherNames = this.apps.byIds(principal, others).map((other) => other?.name).filter(Boolean);
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
    const target = this.publish.target(principal, input.appId, input.environmentId);
    if (!target.ok) return target;
    const { app, environment, warnings } = target.value;
    const published =
      input.kind === 'SERVICES_AND_WEB'
        ? this.runtime.appServices(app.id, environment.id) !== undefined || this.runtime.webClient(app.id, environment.id) !== undefined
        : [false, true].some((preview) => this.management.find(environment.id, app.id, preview) !== undefined);
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

  publishPlan(): JobPlan {
    return {
      snapshot: (job) => this.runtime.snapshot(job.environmentId, job.appId),
      restore: (_job, snapshot) => this.runtime.restore(snapshot as ServicesSnapshot),
      stages: (job) => this.servicesStages(job),
    };
  }

  unpublishServicesPlan(): JobPlan {
    return {
      snapshot: (job) => this.runtime.snapshot(job.environmentId, job.appId),
      restore: (_job, snapshot) => this.runtime.restore(snapshot as ServicesSnapshot),
      afterRestore: () => this.binaries.sweepOrphanBlobs(),
      stages: (job) => [
        this.validateStage(job, 'services and web client'),
        {
          key: 'UNPUBLISH',
          run: async () => {
            const removed = this.db.transaction(() => this.runtime.unpublish(job.environmentId, job.appId));
            this.binaries.sweepOrphanBlobs();
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
      snapshot: (job) => [false, true].map((preview) => this.management.snapshot(job.environmentId, job.appId, preview)),
      restore: (job, snapshot) => {
        for (const one of snapshot as ManagementAppSnapshot[]) this.management.restore(one, job.id);
      },
      afterRestore: () => this.binaries.sweepOrphanBlobs(),
      stages: (job) => [
        this.validateStage(job, 'Management apps'),
        {
          key: 'UNPUBLISH',
          run: async () => {
            const removed = this.db.transaction(() => this.management.removeApps(job.environmentId, job.appId));
            this.binaries.sweepOrphanBlobs();
            return { message: `Removed ${removed} Management apps (production and preview)` };
          },
        },
      ],
    };
  }

  private validateStage(job: PublishJob, what: string): StageDefinition {
    return {
      key: 'VALIDATE',
      run: async () => {
        await this.checkRuntime(job);
        return { message: `Unpublish the ${what}` };
      },
    };
  }

  private async checkRuntime(job: PublishJob): Promise<void> {
    const [environment] = this.environments.byIds(principalOf(job), [job.environmentId]);
    if (environment?.url && !(await this.publish.probe(environment.url)))
      throw new StageFailure('RUNTIME_UNREACHABLE', `The runtime at ${environment.url} did not answer`);
  }

  private servicesStages(job: PublishJob): StageDefinition[] {
    const request = JSON.parse(job.request) as ServicesRequest;
    const principal = principalOf(job);
    const app = (context: StageContext) => context.carry.get('app') as App;
    return [
      {
        key: 'VALIDATE',
        run: async (context) => {
          const [current] = this.apps.byIds(principal, [job.appId]);
          if (!current) throw new StageFailure('NOT_FOUND', 'The app is gone');
          context.carry.set('app', current);
          if (request.webClientBinaryId !== null && !this.binaries.byIds(principal, [request.webClientBinaryId])[0])
            throw new StageFailure('NOT_FOUND', 'The web client binary of this publish was deleted');
          await this.checkRuntime(job);
          return { message: `Publish ${current.name}` };
        },
      },
      {
        key: 'PUBLISH_IDENTITY_SERVICES',
        run: async (context) => {
          const services = this.apps.identityServicesOf([job.appId]);
          context.carry.set('identityServices', services.map((service) => service.name));
          if (services.length === 0) return { skipped: `${app(context).name} uses no identity services` };
          this.db.transaction(() => this.runtime.publishIdentityServices(job.environmentId, job.appId, job.id, services));
          return { message: `Published ${services.map((service) => `${service.name} (${service.providerType})`).join(', ')}` };
        },
      },
      {
        key: 'PUBLISH_INTEGRATION_SERVICES',
        run: async (context) => {
          const names = (context.carry.get('identityServices') ?? []) as string[];
          this.db.transaction(() => this.runtime.publishAppServices(job.environmentId, job.appId, job.id, names));
          return { message: `Integration services of ${app(context).name} published` };
        },
      },
      {
        key: 'DEPLOY_WEB_CLIENT',
        run: async (context) => {
          if (request.webClientBinaryId === null) return { skipped: 'No web client binary was given' };
          const [environment] = this.environments.byIds(principal, [job.environmentId]);
          if (environment?.allowManualPublishOnly)
            return { skipped: `${environment.name} allows manual publish only: deploy the web client by hand` };
          const [web] = this.binaries.byIds(principal, [request.webClientBinaryId]);
          if (!web) throw new StageFailure('NOT_FOUND', 'The web client binary of this publish was deleted');
          const { sha256 } = await hashFile(this.binaries.pathOf(web), context.signal);
          if (sha256 !== web.sha256) throw new StageFailure('BINARY_CORRUPT', `The stored file of web client ${web.version} does not match its SHA-256`);
          this.db.transaction(() => this.runtime.deployWebClient(job.environmentId, job.appId, job.id, web.id, web.sha256));
          return { message: `Web client ${web.version} (${web.fileName}) is live` };
        },
      },
      {
        key: 'ACTIVATE',
        run: async (context) => {
          this.db.transaction(() => this.runtime.activate(job.environmentId, job.appId));
          this.binaries.sweepOrphanBlobs();
          return { message: `${app(context).name} is live` };
        },
      },
    ];
  }
}
