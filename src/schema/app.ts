import type { App, IdentityService, IntegrationService } from '../domain/apps.js';
import { builder } from './builder.js';
import { toConnection } from './connection.js';
import { isPresent, localId, parseRowId } from './ids.js';
import { forbidden, toPayload, UserErrorRef, type Payload } from './payloads.js';

const IdentityServiceRef = builder.objectRef<IdentityService>('IdentityService').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    providerType: t.exposeString('providerType'),
  }),
});

const IntegrationServiceRef = builder.objectRef<IntegrationService>('IntegrationService').implement({
  description: 'A service the app calls (R54): published with its services, handed to SDKs in the app configuration.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Unique within the app, case-insensitively.' }),
    baseUrl: t.exposeString('baseUrl', { description: 'The http(s) URL the service answers at.' }),
  }),
});

export const AppRef = builder.loadableNode('App', {
  id: { resolve: (app: App) => app.id, parse: parseRowId },
  load: async (ids: number[], context) => context.domain.apps.byIds(context.principal, ids).filter(isPresent),
  sort: (app) => app.id,
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    identityServices: t.loadableGroup({
      type: IdentityServiceRef,
      load: async (appIds: number[], context) => context.domain.apps.identityServicesOf(appIds),
      group: (service) => service.appId,
      resolve: (app) => app.id,
    }),
    integrationServices: t.loadableGroup({
      type: IntegrationServiceRef,
      description: "The integration services the app calls, in the app's order (R54).",
      load: async (appIds: number[], context) => context.domain.apps.integrationServicesOf(appIds),
      group: (service) => service.appId,
      resolve: (app) => app.id,
    }),
  }),
});

builder.queryField('apps', (t) =>
  t.connection({
    type: AppRef,
    args: { search: t.arg.string({ description: 'Case-insensitive substring of the app name.' }) },
    resolve: (_root, args, { domain, principal }) => toConnection(domain.apps.list(principal, args)),
  }, { name: 'AppConnection' }, { name: 'AppEdge' }),
);

const IdentityServiceInput = builder.inputType('IdentityServiceInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    providerType: t.string({ required: true }),
  }),
});

const IntegrationServiceInput = builder.inputType('IntegrationServiceInput', {
  description: 'An integration service of the app: a name and the http(s) base URL it answers at.',
  fields: (t) => ({
    name: t.string({ required: true, description: 'Unique within the app, case-insensitively.' }),
    baseUrl: t.string({ required: true, description: 'An http(s) URL without credentials, at most 2000 characters.' }),
  }),
});

const CreateAppInput = builder.inputType('CreateAppInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    description: t.string(),
    identityServices: t.field({ type: [IdentityServiceInput] }),
    integrationServices: t.field({ type: [IntegrationServiceInput], description: 'Replaces the app\'s list when given (R54).' }),
  }),
});

const UpdateAppInput = builder.inputType('UpdateAppInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    description: t.string(),
    identityServices: t.field({ type: [IdentityServiceInput] }),
    integrationServices: t.field({ type: [IntegrationServiceInput], description: 'Replaces the app\'s list when given (R54).' }),
  }),
});

const AppPayload = builder.objectRef<Payload<'app', App>>('AppPayload').implement({
  fields: (t) => ({
    app: t.field({ type: AppRef, nullable: true, resolve: (payload) => payload.app ?? null }),
    userErrors: t.field({ type: [UserErrorRef], resolve: (payload) => payload.userErrors }),
  }),
});

builder.mutationFields((t) => ({
  createApp: t.field({
    type: AppPayload,
    authScopes: { role: 'ADMIN' },
    unauthorizedResolver: forbidden,
    args: { input: t.arg({ type: CreateAppInput, required: true }) },
    resolve: (_root, { input }, { domain, principal }) => toPayload('app', domain.apps.create(principal, input)),
  }),
  updateApp: t.field({
    type: AppPayload,
    authScopes: { role: 'ADMIN' },
    unauthorizedResolver: forbidden,
    args: { input: t.arg({ type: UpdateAppInput, required: true }) },
    resolve: (_root, { input }, { domain, principal }) =>
      toPayload('app', domain.apps.update(principal, { ...input, id: localId(input.id, 'App') })),
  }),
}));
