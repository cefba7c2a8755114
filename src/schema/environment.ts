import type { Environment, EnvironmentStatus } from '../domain/environments.js';
import { can } from '../domain/policy.js';
import { builder } from './builder.js';
import { toConnection } from './connection.js';
import { isPresent, localId, parseRowId } from './ids.js';
import { DeletePayloadRef, toPayload, UserErrorRef, type Payload } from './payloads.js';

export const EnvironmentStatusEnum = builder.enumType('EnvironmentStatus', {
  description: 'Whether an environment can take a publish now (R9).',
  values: {
    AVAILABLE: { description: 'Ready: a publish request is accepted and processed.' },
    BUSY: { description: 'A publish is in progress there: another request is refused with ENVIRONMENT_BUSY.' },
    UNKNOWN: { description: 'The runtime could not be reached: a publish is accepted with a warning but may not succeed.' },
  },
});

const RuntimeVersionsRef = builder.objectRef<Environment>('RuntimeVersions').implement({
  description: "Versions of the environment's runtime components; each must equal the console version to publish (R12).",
  fields: (t) => ({
    integration: t.exposeString('integrationVersion', { description: 'Version of the integration server.' }),
    sync: t.exposeString('syncVersion', { description: 'Version of the sync server.' }),
    messaging: t.exposeString('messagingVersion', { description: 'Version of the messaging server.' }),
  }),
});

/** An environment, and where a list read them ahead, its status (R9) at that reading. */
export type EnvironmentView = Environment & { statusAt?: EnvironmentStatus };

export const EnvironmentRef = builder.loadableNode('Environment', {
  description: 'A runtime environment (dev, test, production…) that apps are published to.',
  id: { resolve: (environment: Environment) => environment.id, parse: parseRowId },
  load: async (ids: number[], context) => (await context.domain.environments.byIds(context.principal, ids)).filter(isPresent),
  sort: (environment) => environment.id,
  fields: (t) => ({
    name: t.exposeString('name', {
      description: '3-20 letters, digits and hyphens; starts with a letter; no hyphen at either end; unique in the account; immutable.',
    }),
    url: t.exposeString('url', {
      nullable: true,
      description: "Runtime server URL; null for the embedded runtime. Unique among the account's environments; immutable.",
    }),
    status: t.field({
      type: EnvironmentStatusEnum,
      description: 'BUSY while a publish runs there; otherwise whether its runtime answered the last probe.',
      // Read ahead for a dashboard's rows (AppEnvironmentStatus): no promise per row then.
      resolve: (environment: EnvironmentView, _args, { loaders }) => environment.statusAt ?? loaders.environmentStatus.load(environment.id),
    }),
    statusCheckedAt: t.expose('statusCheckedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the runtime was last probed; null when never (the embedded runtime needs no probe).',
    }),
    statusReason: t.exposeString('statusReason', {
      nullable: true,
      description:
        'Why the runtime did not count as answering its last probe: WRONG_TOKEN, NOT_A_RUNTIME or UNREACHABLE, with details; null when it answered or was never probed.',
    }),
    allowManualPublishOnly: t.exposeBoolean('allowManualPublishOnly', {
      description: 'Skip deploying the web client (.war) on publish; it is deployed by hand.',
    }),
    managementEnabled: t.exposeBoolean('managementEnabled', {
      description: 'Whether a Volt MX Management runtime is attached (native client publishing target).',
    }),
    runtimeVersions: t.field({ type: RuntimeVersionsRef, description: 'For an environment with a URL, what its runtime last reported (GET /v1/info); else as set by hand.', resolve: (environment) => environment }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the environment was created.' }),
    updatedAt: t.field({
      type: 'DateTime',
      description: 'When its settings or last status check changed; the creation time until then.',
      resolve: (environment) => environment.updatedAt ?? environment.createdAt,
    }),
    viewerCanUpdate: t.boolean({
      description: "Whether the caller's role allows updateEnvironment (ADMIN).",
      resolve: (_environment, _args, { principal }) => can(principal, 'manageEnvironments'),
    }),
    viewerCanDelete: t.boolean({
      description: "Whether the caller's role allows deleteEnvironment (ADMIN); it is still refused while a publish runs there.",
      resolve: (_environment, _args, { principal }) => can(principal, 'manageEnvironments'),
    }),
    viewerCanCheck: t.boolean({
      description: "Whether the caller's role allows checkEnvironment (MEMBER).",
      resolve: (_environment, _args, { principal }) => can(principal, 'checkEnvironment'),
    }),
    viewerCanManageDirectory: t.boolean({
      description: "Whether the caller's role allows creating, updating and deleting this environment's directory users and groups (ADMIN).",
      resolve: (_environment, _args, { principal }) => can(principal, 'manageDirectory'),
    }),
    viewerCanPublishPreview: t.boolean({
      description: "Whether the caller's role allows publishNativeClient with option PREVIEW (MEMBER).",
      resolve: (_environment, _args, { principal }) => can(principal, 'publishNative', { option: 'PREVIEW' }),
    }),
    viewerCanPublishToAppStore: t.boolean({
      description: "Whether the caller's role allows publishNativeClient with option APP_STORE (ADMIN).",
      resolve: (_environment, _args, { principal }) => can(principal, 'publishNative', { option: 'APP_STORE' }),
    }),
    viewerCanPublishServicesAndWeb: t.boolean({
      description: "Whether the caller's role allows publishServicesAndWeb, and unpublishApp of kind SERVICES_AND_WEB (MEMBER).",
      resolve: (_environment, _args, { principal }) => can(principal, 'publishServicesAndWeb'),
    }),
    viewerCanUnpublishNative: t.boolean({
      description: "Whether the caller's role allows unpublishApp of kind NATIVE_CLIENT (ADMIN).",
      resolve: (_environment, _args, { principal }) => can(principal, 'unpublish', { kind: 'NATIVE_CLIENT' }),
    }),
  }),
});

builder.queryField('environments', (t) =>
  t.connection({
    type: EnvironmentRef,
    description: "The account's environments, by name.",
    resolve: async (_root, args, { domain, principal }) => toConnection(await domain.environments.list(principal, args)),
  }, { name: 'EnvironmentConnection', description: 'A page of environments.' }, { name: 'EnvironmentEdge', description: 'An environment in a page, with its cursor.' }),
);

const RuntimeVersionsInput = builder.inputType('RuntimeVersionsInput', {
  description: "Versions of an environment's runtime components, such as 9.5.0 or 9.5.0.12.",
  fields: (t) => ({
    integration: t.string({ required: true, description: 'Version of the integration server.' }),
    sync: t.string({ required: true, description: 'Version of the sync server.' }),
    messaging: t.string({ required: true, description: 'Version of the messaging server.' }),
  }),
});

const CreateEnvironmentInput = builder.inputType('CreateEnvironmentInput', {
  description: 'A new environment.',
  fields: (t) => ({
    name: t.string({ required: true, description: '3-20 letters, digits and hyphens; starts with a letter; no hyphen at either end; unique in the account.' }),
    url: t.string({ description: 'Runtime server URL (http or https); omit for the embedded runtime.' }),
    runtimeToken: t.string({
      description: "Bearer token of the runtime server at url (what `npm run runtime` printed); stored, never readable back.",
    }),
    allowManualPublishOnly: t.boolean({ description: 'Skip deploying the web client on publish; default false.' }),
    managementEnabled: t.boolean({ description: 'Attach a Volt MX Management runtime (native publishing); default false.' }),
    runtimeVersions: t.field({
      type: RuntimeVersionsInput,
      description: 'Defaults to the console version for every component.',
    }),
  }),
});

const UpdateEnvironmentInput = builder.inputType('UpdateEnvironmentInput', {
  description: 'Changes to an environment; absent fields keep their values. Name and URL cannot change.',
  fields: (t) => ({
    id: t.id({ required: true, description: 'The Environment to change.' }),
    runtimeToken: t.string({ description: 'A new bearer token for the runtime server at the url; stored, never readable back.' }),
    allowManualPublishOnly: t.boolean({ description: 'Skip deploying the web client on publish.' }),
    managementEnabled: t.boolean({ description: 'Whether a Volt MX Management runtime is attached.' }),
    runtimeVersions: t.field({ type: RuntimeVersionsInput, description: 'Versions of its runtime components.' }),
  }),
});

const DeleteEnvironmentInput = builder.inputType('DeleteEnvironmentInput', {
  description: 'The environment to delete.',
  fields: (t) => ({ id: t.id({ required: true, description: 'The Environment; refused while a publish runs there.' }) }),
});

const CheckEnvironmentInput = builder.inputType('CheckEnvironmentInput', {
  description: 'The environment to probe.',
  fields: (t) => ({ id: t.id({ required: true, description: 'The Environment.' }) }),
});

const EnvironmentPayload = builder.objectRef<Payload<'environment', Environment>>('EnvironmentPayload').implement({
  description: 'What the environment mutations answer.',
  fields: (t) => ({
    environment: t.field({ type: EnvironmentRef, nullable: true, description: 'The environment as it now stands; null when refused.', resolve: (payload) => payload.environment ?? null }),
    userErrors: t.field({ type: [UserErrorRef], description: 'Why the request was refused; empty on success.', resolve: (payload) => payload.userErrors }),
  }),
});

builder.mutationFields((t) => ({
  createEnvironment: t.field({
    type: EnvironmentPayload,
    description: 'Create an environment (ADMIN).',
    args: { input: t.arg({ type: CreateEnvironmentInput, required: true, description: 'The new environment.' }) },
    resolve: async (_root, { input }, { domain, principal }) =>
      toPayload('environment', await domain.environments.create(principal, input)),
  }),
  updateEnvironment: t.field({
    type: EnvironmentPayload,
    description: "Change an environment's settings (ADMIN).",
    args: { input: t.arg({ type: UpdateEnvironmentInput, required: true, description: 'The changes.' }) },
    resolve: async (_root, { input }, { domain, principal }) =>
      toPayload('environment', await domain.environments.update(principal, { ...input, id: localId(input.id, 'Environment') })),
  }),
  deleteEnvironment: t.field({
    type: DeletePayloadRef,
    description: 'Delete an environment with its directory and Management data (ADMIN); refused while a publish runs there.',
    args: { input: t.arg({ type: DeleteEnvironmentInput, required: true, description: 'The environment to delete.' }) },
    resolve: async (_root, { input }, { domain, principal }) => {
      const result = await domain.environments.delete(principal, localId(input.id, 'Environment'));
      return result.ok ? { deletedId: input.id, userErrors: [] } : { userErrors: result.userErrors };
    },
  }),
  checkEnvironment: t.field({
    type: EnvironmentPayload,
    description: "Probe the environment's runtime now (TEST CONNECTION) and return its fresh status.",
    args: { input: t.arg({ type: CheckEnvironmentInput, required: true, description: 'The environment to probe.' }) },
    resolve: async (_root, { input }, { domain, principal }) =>
      toPayload('environment', await domain.environments.check(principal, localId(input.id, 'Environment'))),
  }),
}));
