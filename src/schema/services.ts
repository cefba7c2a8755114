import type { AppEnvironmentStatus } from '../domain/app-status.js';
import type { PublishedIdentityService } from '../runtime/types.js';
import type { Domain } from '../domain/index.js';
import type { PublishJob } from '../domain/publish/jobs.js';
import { servicesRequestOf } from '../domain/publish/job-records.js';
import { AppRef } from './app.js';
import { builder } from './builder.js';
import { ClientBinaryRef } from './client-binary.js';
import { EnvironmentRef, type EnvironmentView } from './environment.js';
import { localId } from './ids.js';
import { toPayload, UserErrorRef } from './payloads.js';
import type { ClientCredentials } from '../domain/client-credentials.js';
import { PublicLinks } from '../domain/links.js';
import { can } from '../domain/policy.js';
import type { UserError } from '../domain/result.js';
import { PublishJobRef, PublishKindEnum, PublishPayloadRef, type PublishJobView } from './publish-job.js';

const PublishStatusEnum = builder.enumType('PublishStatus', {
  description: 'Whether something of an app is live in an environment.',
  values: {
    PUBLISHED: { description: 'Live there.' },
    NOT_PUBLISHED: { description: 'Not there (never published, or unpublished).' },
  },
});

interface ClientConfigRow {
  credentials: ClientCredentials;
  configUrl: string;
}

const ClientConfigRef = builder.objectRef<ClientConfigRow>('ClientConfig').implement({
  description: "What a client SDK starts from (R54): the app's key and secret in the environment, and where to ask for its configuration.",
  fields: (t) => ({
    appKey: t.string({ description: 'Sent as X-App-Key; stable once made by the first services publish.', resolve: ({ credentials }) => credentials.appKey }),
    appSecret: t.string({
      nullable: true,
      description: 'Sent as X-App-Secret; shown to MEMBER and ADMIN only (null for a VIEWER). rotateAppSecret replaces it.',
      resolve: ({ credentials }, _args, { principal }) => (can(principal, 'manageAppSecrets') ? credentials.appSecret : null),
    }),
    secretRotatedAt: t.field({ type: 'DateTime', description: 'When the secret was made or last replaced.', resolve: ({ credentials }) => credentials.rotatedAt }),
    configUrl: t.exposeString('configUrl', { description: "The runtime's appconfig URL: GET it with X-App-Key and X-App-Secret." }),
  }),
});

const AppEnvironmentStatusRef = builder.objectRef<AppEnvironmentStatus>('AppEnvironmentStatus').implement({
  description: "Where one app stands in one environment: a cell of a dashboard's app-by-environment matrix.",
  fields: (t) => ({
    environment: t.field({ type: EnvironmentRef, description: 'The environment.', resolve: (row) => row.environment }),
    nativeClient: t.expose('nativeClient', {
      type: PublishStatusEnum,
      description: "PUBLISHED while the environment's Management runtime holds at least one version of the app.",
    }),
    servicesAndWeb: t.expose('servicesAndWeb', {
      type: PublishStatusEnum,
      description: "PUBLISHED while the environment serves the app's services (and web client, unless manual publish only).",
    }),
    latestNativeJob: t.field({ type: PublishJobRef, nullable: true, description: 'The newest native job of the app there; null if none.', resolve: (row) => row.latestNativeJob }),
    latestServicesJob: t.field({ type: PublishJobRef, nullable: true, description: 'The newest services and web job of the app there; null if none.', resolve: (row) => row.latestServicesJob }),
    webClient: t.field({
      type: ClientBinaryRef,
      nullable: true,
      description: 'The web client live there (R38); null when none is, or its binary was deleted since.',
      resolve: (row) => row.webClientBinaryId,
    }),
    webClientUrl: t.string({
      nullable: true,
      description: "Where the runtime serves the live web client (R53), absolute; null when none is live (after unpublishing the URL answers 404).",
      resolve: (row, _args, { origin }) =>
        row.webClientLive && row.publishedAppName ? new PublicLinks(origin).webClient(row.environment, row.publishedAppName) : null,
    }),
    clientConfig: t.loadable({
      type: ClientConfigRef,
      nullable: true,
      description: "The app's key, secret and configuration URL there (R54); null until its first services publish to the environment.",
      load: async (keys: string[], { domain, origin }) => {
        const pairs = keys.map((key) => ({ appId: Number(key.split(':')[0]), environmentId: Number(key.split(':')[1]) }));
        const apps = await domain.apps.byIdsUnscoped(pairs.map((pair) => pair.appId));
        const links = new PublicLinks(origin);
        return Promise.all(
          (await domain.credentials.of(pairs)).map(async (credentials, index) => {
            const environment = credentials && (await domain.environments.byIdUnscoped(credentials.environmentId));
            const app = apps[index];
            return credentials && environment && app ? { credentials, configUrl: links.appConfig(environment, app.name) } : null;
          }),
        );
      },
      resolve: (row) => `${row.appId}:${row.environment.id}`,
    }),
  }),
});

/**
 * A dashboard asks each row's environment status and its jobs' stages: read them for all rows at
 * once here (two statements, the stages mostly kept already), so that those fields answer without
 * a promise and a loader call per row.
 */
async function withReadAhead(domain: Domain, rows: AppEnvironmentStatus[][]): Promise<AppEnvironmentStatus[][]> {
  const environmentIds = [...new Set(rows.flat().map((row) => row.environment.id))];
  const statuses = new Map((await domain.environments.statuses(environmentIds)).map((status, i) => [environmentIds[i], status]));
  const environments = new Map<number, EnvironmentView>(rows.flat().map((row) => [row.environment.id, { ...row.environment, statusAt: statuses.get(row.environment.id) }]));
  const jobs = rows.flat().flatMap((row) => [row.latestNativeJob, row.latestServicesJob]).filter((job) => job !== null);
  const stages = new Map((await domain.jobs.stagesOf(jobs.map((job) => job.id))).map((list, i) => [jobs[i]?.id, list]));
  const withStages = (job: PublishJob | null): PublishJobView | null => (job ? { ...job, stagesAt: stages.get(job.id) ?? [] } : null);
  return rows.map((appRows) =>
    appRows.map((row) => ({
      ...row,
      environment: environments.get(row.environment.id) ?? row.environment,
      latestNativeJob: withStages(row.latestNativeJob),
      latestServicesJob: withStages(row.latestServicesJob),
    })),
  );
}

builder.objectField(AppRef, 'environmentStatuses', (t) =>
  t.loadableList({
    type: AppEnvironmentStatusRef,
    description: 'One row per environment of the account: where this app stands there.',
    load: async (appIds: number[], { domain, principal }) => withReadAhead(domain, await domain.appStatuses.forApps(principal, appIds)),
    resolve: (app) => app.id,
  }),
);

interface PublishedIdentityServiceRow {
  service: PublishedIdentityService;
  usedBy: number[];
}

const PublishedIdentityServiceRef = builder.objectRef<PublishedIdentityServiceRow>('PublishedIdentityService').implement({
  description: 'An identity service as published to an environment, shared by every app there that uses it (R37).',
  fields: (t) => ({
    name: t.string({ description: 'Unique in the environment, case-insensitively.', resolve: ({ service }) => service.name }),
    providerType: t.string({ description: 'The kind of identity provider.', resolve: ({ service }) => service.providerType }),
    publishedBy: t.field({
      type: AppRef,
      description: 'The app whose publish last wrote this identity service.',
      resolve: ({ service }) => service.publishedByAppId,
    }),
    publishedAt: t.field({ type: 'DateTime', description: 'When it was last published.', resolve: ({ service }) => new Date(service.publishedAt) }),
    usedBy: t.field({ type: [AppRef], description: 'Apps of this environment that use it.', resolve: ({ usedBy }) => usedBy }),
  }),
});

builder.objectField(EnvironmentRef, 'identityServices', (t) =>
  t.loadableList({
    type: PublishedIdentityServiceRef,
    description: 'Identity services published here; shared by every app in the environment that uses them.',
    load: async (environmentIds: number[], { domain, principal }) => domain.services.identityServicesWithUsers(principal, environmentIds),
    resolve: (environment) => environment.id,
  }),
);

builder.objectField(PublishJobRef, 'webClientBinary', (t) =>
  t.field({
    type: ClientBinaryRef,
    nullable: true,
    description: 'The web client a services and web publish deployed; null for other jobs, or when none was given.',
    resolve: (job) => servicesRequestOf(job)?.webClientBinaryId ?? null,
  }),
);

const PublishServicesAndWebInput = builder.inputType('PublishServicesAndWebInput', {
  description: "A publish of an app's services and web client to an environment.",
  fields: (t) => ({
    appId: t.id({ required: true, description: 'The App to publish.' }),
    environmentId: t.id({ required: true, description: 'The Environment to publish to.' }),
    webClientBinaryId: t.id({
      description: "The web client (.war/.zip) to deploy; skipped where the environment allows manual publish only.",
    }),
    sync: t.boolean({ description: 'Wait for the job to finish before answering.' }),
  }),
});

const UnpublishAppInput = builder.inputType('UnpublishAppInput', {
  description: 'What to take out of an environment.',
  fields: (t) => ({
    appId: t.id({ required: true, description: 'The App to unpublish.' }),
    environmentId: t.id({ required: true, description: 'The Environment to take it out of.' }),
    kind: t.field({ type: PublishKindEnum, required: true, description: 'NATIVE_CLIENT: its Management apps, production and preview (ADMIN); SERVICES_AND_WEB: its services and web client (MEMBER).' }),
    sync: t.boolean({ description: 'Wait for the job to finish before answering.' }),
  }),
});

const RotateAppSecretInput = builder.inputType('RotateAppSecretInput', {
  description: 'The app and environment whose app secret to replace.',
  fields: (t) => ({
    appId: t.id({ required: true, description: 'The App whose secret to replace.' }),
    environmentId: t.id({ required: true, description: 'The Environment the secret is for.' }),
  }),
});

const RotateAppSecretPayloadRef = builder.objectRef<{ clientConfig?: ClientConfigRow | null; userErrors: UserError[] }>('RotateAppSecretPayload').implement({
  description: 'The new client configuration, or why the secret was not replaced (then the old one still works).',
  fields: (t) => ({
    clientConfig: t.field({ type: ClientConfigRef, nullable: true, description: 'The configuration with the new secret; null when there are user errors.', resolve: (payload) => payload.clientConfig ?? null }),
    userErrors: t.field({ type: [UserErrorRef], description: 'Why the secret was not replaced; empty on success.', resolve: (payload) => payload.userErrors }),
  }),
});

builder.mutationFields((t) => ({
  rotateAppSecret: t.field({
    type: RotateAppSecretPayloadRef,
    description: "R54: replaces the app's secret in the environment; the old one is refused from then on. MEMBER and ADMIN, who may see the secret.",
    args: { input: t.arg({ type: RotateAppSecretInput, required: true, description: 'The app and environment.' }) },
    resolve: async (_root, { input }, { domain, principal, origin }) => {
      const environmentId = localId(input.environmentId, 'Environment');
      const result = await domain.services.rotateAppSecret(principal, { appId: localId(input.appId, 'App'), environmentId });
      if (!result.ok) return { clientConfig: null, userErrors: result.userErrors };
      const { credentials, app, environment } = result.value;
      return { clientConfig: { credentials, configUrl: new PublicLinks(origin).appConfig(environment, app.name) }, userErrors: [] };
    },
  }),
  publishServicesAndWeb: t.field({
    type: PublishPayloadRef,
    description: "Publish an app's identity and integration services and its web client to an environment (MEMBER).",
    args: { input: t.arg({ type: PublishServicesAndWebInput, required: true, description: 'What to publish where.' }) },
    resolve: async (_root, { input }, { domain, principal }) =>
      toPayload(
        'job',
        await domain.services.publishServicesAndWeb(principal, {
          appId: localId(input.appId, 'App'),
          environmentId: localId(input.environmentId, 'Environment'),
          webClientBinaryGiven: input.webClientBinaryId != null,
          webClientBinaryId: input.webClientBinaryId == null ? null : localId(input.webClientBinaryId, 'ClientBinary'),
          sync: input.sync ?? null,
        }),
      ),
  }),
  unpublishApp: t.field({
    type: PublishPayloadRef,
    description: 'Take an app out of an environment, as a job with stage UNPUBLISH (R39).',
    args: { input: t.arg({ type: UnpublishAppInput, required: true, description: 'What to unpublish where.' }) },
    resolve: async (_root, { input }, { domain, principal }) =>
      toPayload(
        'job',
        await domain.services.unpublishApp(principal, {
          appId: localId(input.appId, 'App'),
          environmentId: localId(input.environmentId, 'Environment'),
          kind: input.kind,
          sync: input.sync ?? null,
        }),
      ),
  }),
}));
