import type { Environment } from '../domain/environments.js';
import { builder } from './builder.js';
import { toConnection } from './connection.js';
import { isPresent, localId, parseRowId } from './ids.js';
import { DeletePayloadRef, toPayload, UserErrorRef, type Payload } from './payloads.js';

export const EnvironmentStatusEnum = builder.enumType('EnvironmentStatus', {
  values: {
    AVAILABLE: { description: 'Ready: a publish request is accepted and processed.' },
    BUSY: { description: 'A publish is in progress there: another request is refused with ENVIRONMENT_BUSY.' },
    UNKNOWN: { description: 'The runtime could not be reached: a publish is accepted with a warning but may not succeed.' },
  },
});

const RuntimeVersionsRef = builder.objectRef<Environment>('RuntimeVersions').implement({
  fields: (t) => ({
    integration: t.exposeString('integrationVersion'),
    sync: t.exposeString('syncVersion'),
    messaging: t.exposeString('messagingVersion'),
  }),
});

export const EnvironmentRef = builder.loadableNode('Environment', {
  id: { resolve: (environment: Environment) => environment.id, parse: parseRowId },
  load: async (ids: number[], context) => context.domain.environments.byIds(context.principal, ids).filter(isPresent),
  sort: (environment) => environment.id,
  fields: (t) => ({
    name: t.exposeString('name', {
      description: '3-20 letters, digits and hyphens; starts with a letter; no hyphen at either end; unique in the account; immutable.',
    }),
    url: t.exposeString('url', {
      nullable: true,
      description: 'Runtime server URL; null for the embedded runtime. Unique across environments; immutable.',
    }),
    status: t.loadable({
      type: EnvironmentStatusEnum,
      load: async (ids: number[], { domain }) => domain.environments.statuses(ids),
      resolve: (environment) => environment.id,
    }),
    statusCheckedAt: t.expose('statusCheckedAt', { type: 'DateTime', nullable: true }),
    allowManualPublishOnly: t.exposeBoolean('allowManualPublishOnly', {
      description: 'Skip deploying the web client (.war) on publish; it is deployed by hand.',
    }),
    managementEnabled: t.exposeBoolean('managementEnabled', {
      description: 'Whether a Volt MX Management runtime is attached (native client publishing target).',
    }),
    runtimeVersions: t.field({ type: RuntimeVersionsRef, resolve: (environment) => environment }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.queryField('environments', (t) =>
  t.connection({
    type: EnvironmentRef,
    resolve: (_root, args, { domain, principal }) => toConnection(domain.environments.list(principal, args)),
  }, { name: 'EnvironmentConnection' }, { name: 'EnvironmentEdge' }),
);

const RuntimeVersionsInput = builder.inputType('RuntimeVersionsInput', {
  fields: (t) => ({
    integration: t.string({ required: true }),
    sync: t.string({ required: true }),
    messaging: t.string({ required: true }),
  }),
});

const CreateEnvironmentInput = builder.inputType('CreateEnvironmentInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    url: t.string(),
    allowManualPublishOnly: t.boolean(),
    managementEnabled: t.boolean(),
    runtimeVersions: t.field({
      type: RuntimeVersionsInput,
      description: 'Defaults to the console version for every component.',
    }),
  }),
});

const UpdateEnvironmentInput = builder.inputType('UpdateEnvironmentInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    allowManualPublishOnly: t.boolean(),
    managementEnabled: t.boolean(),
    runtimeVersions: t.field({ type: RuntimeVersionsInput }),
  }),
});

const DeleteEnvironmentInput = builder.inputType('DeleteEnvironmentInput', {
  fields: (t) => ({ id: t.id({ required: true }) }),
});

const CheckEnvironmentInput = builder.inputType('CheckEnvironmentInput', {
  fields: (t) => ({ id: t.id({ required: true }) }),
});

const EnvironmentPayload = builder.objectRef<Payload<'environment', Environment>>('EnvironmentPayload').implement({
  fields: (t) => ({
    environment: t.field({ type: EnvironmentRef, nullable: true, resolve: (payload) => payload.environment ?? null }),
    userErrors: t.field({ type: [UserErrorRef], resolve: (payload) => payload.userErrors }),
  }),
});

builder.mutationFields((t) => ({
  createEnvironment: t.field({
    type: EnvironmentPayload,
    args: { input: t.arg({ type: CreateEnvironmentInput, required: true }) },
    resolve: (_root, { input }, { domain, principal }) =>
      toPayload('environment', domain.environments.create(principal, input)),
  }),
  updateEnvironment: t.field({
    type: EnvironmentPayload,
    args: { input: t.arg({ type: UpdateEnvironmentInput, required: true }) },
    resolve: (_root, { input }, { domain, principal }) =>
      toPayload('environment', domain.environments.update(principal, { ...input, id: localId(input.id, 'Environment') })),
  }),
  deleteEnvironment: t.field({
    type: DeletePayloadRef,
    args: { input: t.arg({ type: DeleteEnvironmentInput, required: true }) },
    resolve: (_root, { input }, { domain, principal }) => {
      const result = domain.environments.delete(principal, localId(input.id, 'Environment'));
      return result.ok ? { deletedId: input.id, userErrors: [] } : { userErrors: result.userErrors };
    },
  }),
  checkEnvironment: t.field({
    type: EnvironmentPayload,
    description: "Probe the environment's runtime now (TEST CONNECTION) and return its fresh status.",
    args: { input: t.arg({ type: CheckEnvironmentInput, required: true }) },
    resolve: async (_root, { input }, { domain, principal }) =>
      toPayload('environment', await domain.environments.check(principal, localId(input.id, 'Environment'))),
  }),
}));
