import type { App, AppOrderField, IdentityService, IntegrationService } from '../domain/apps.js';
import { can } from '../domain/policy.js';
import { builder } from './builder.js';
import { orderByInput, toConnection } from './connection.js';
import { isPresent, localId, parseRowId } from './ids.js';
import { DeletePayloadRef, toPayload, UserErrorRef, type Payload } from './payloads.js';

const IdentityServiceRef = builder.objectRef<IdentityService>('IdentityService').implement({
  description: 'An identity service the app uses; publishing the app publishes it to the environment (R37).',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Unique within the app, case-insensitively.' }),
    providerType: t.exposeString('providerType', { description: 'The kind of identity provider, e.g. OAuth2 or LDAP.' }),
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
  description: 'An application: its client binaries, and its services that environments run.',
  id: { resolve: (app: App) => app.id, parse: parseRowId },
  load: async (ids: number[], context) => (await context.domain.apps.byIds(context.principal, ids)).filter(isPresent),
  sort: (app) => app.id,
  fields: (t) => ({
    name: t.exposeString('name', { description: 'A letter, then letters and digits; unique in the account; immutable.' }),
    description: t.exposeString('description', { nullable: true, description: 'Free text shown with the app.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the app was created.' }),
    updatedAt: t.field({
      type: 'DateTime',
      description: 'When the description or identity services last changed; the creation time until then.',
      resolve: (app) => app.updatedAt ?? app.createdAt,
    }),
    identityServices: t.loadableGroup({
      type: IdentityServiceRef,
      description: 'The identity services the app uses, in its own order.',
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
    viewerCanUpdate: t.boolean({
      description: "Whether the caller's role allows updateApp (ADMIN).",
      resolve: (_app, _args, { principal }) => can(principal, 'manageApps'),
    }),
    viewerCanDelete: t.boolean({
      description: "Whether the caller's role allows deleteApp (ADMIN); it is still refused while the app is published.",
      resolve: (_app, _args, { principal }) => can(principal, 'manageApps'),
    }),
    viewerCanManageBinaries: t.boolean({
      description: "Whether the caller's role allows uploading, editing and deleting the app's client binaries (MEMBER).",
      resolve: (_app, _args, { principal }) => can(principal, 'manageBinaries'),
    }),
  }),
});

const AppOrderFieldEnum = builder.enumType('AppOrderField', {
  description: 'What apps can be ordered by.',
  values: {
    NAME: { description: 'Name, case-insensitively (the default, ascending).' },
    CREATED_AT: { description: 'When the app was created.' },
    UPDATED_AT: { description: 'When the app last changed (its creation until then).' },
  } satisfies Record<AppOrderField, unknown>,
});

const AppOrder = orderByInput('AppOrder', AppOrderFieldEnum, 'apps');

builder.queryField('apps', (t) =>
  t.connection(
    {
      type: AppRef,
      description: "The account's apps; by name unless `orderBy` says otherwise.",
      args: {
        search: t.arg.string({ description: 'Case-insensitive substring of the app name.' }),
        orderBy: t.arg({ type: AppOrder, description: 'Order of the list; defaults to NAME ascending.' }),
      },
      resolve: async (_root, args, { domain, principal }) => toConnection(await domain.apps.list(principal, args)),
    },
    { name: 'AppConnection', description: 'A page of apps.' },
    { name: 'AppEdge', description: 'An app in a page, with its cursor.' },
  ),
);

const IdentityServiceInput = builder.inputType('IdentityServiceInput', {
  description: 'An identity service the app uses.',
  fields: (t) => ({
    name: t.string({ required: true, description: 'Unique within the app, case-insensitively.' }),
    providerType: t.string({ required: true, description: 'The kind of identity provider, e.g. OAuth2 or LDAP.' }),
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
  description: 'A new app.',
  fields: (t) => ({
    name: t.string({ required: true, description: 'A letter, then letters and digits; unique in the account; cannot change later.' }),
    description: t.string({ description: 'Free text shown with the app.' }),
    identityServices: t.field({ type: [IdentityServiceInput], description: 'The identity services the app uses (at most 50).' }),
    integrationServices: t.field({ type: [IntegrationServiceInput], description: 'The integration services the app calls (R54); at most 50.' }),
  }),
});

const UpdateAppInput = builder.inputType('UpdateAppInput', {
  description: 'Changes to an app; absent fields keep their values.',
  fields: (t) => ({
    id: t.id({ required: true, description: 'The App to change.' }),
    description: t.string({ description: 'The new description; null clears it.' }),
    identityServices: t.field({ type: [IdentityServiceInput], description: "Replaces the app's identity services when given." }),
    integrationServices: t.field({ type: [IntegrationServiceInput], description: "Replaces the app's integration services when given (R54)." }),
  }),
});

const DeleteAppInput = builder.inputType('DeleteAppInput', {
  description: 'The app to delete.',
  fields: (t) => ({ id: t.id({ required: true, description: 'The App; it must be published nowhere.' }) }),
});

const AppPayload = builder.objectRef<Payload<'app', App>>('AppPayload').implement({
  description: 'What createApp and updateApp answer.',
  fields: (t) => ({
    app: t.field({ type: AppRef, nullable: true, description: 'The app as it now stands; null when refused.', resolve: (payload) => payload.app ?? null }),
    userErrors: t.field({ type: [UserErrorRef], description: 'Why the request was refused; empty on success.', resolve: (payload) => payload.userErrors }),
  }),
});

builder.mutationFields((t) => ({
  createApp: t.field({
    type: AppPayload,
    description: 'Create an app (ADMIN).',
    args: { input: t.arg({ type: CreateAppInput, required: true, description: 'The new app.' }) },
    resolve: async (_root, { input }, { domain, principal }) => toPayload('app', await domain.apps.create(principal, input)),
  }),
  updateApp: t.field({
    type: AppPayload,
    description: "Change an app's description or identity services (ADMIN).",
    args: { input: t.arg({ type: UpdateAppInput, required: true, description: 'The changes.' }) },
    resolve: async (_root, { input }, { domain, principal }) =>
      toPayload('app', await domain.apps.update(principal, { ...input, id: localId(input.id, 'App') })),
  }),
  deleteApp: t.field({
    type: DeletePayloadRef,
    description:
      'Delete an app with its binaries and publish history (ADMIN). Refused with APP_PUBLISHED, naming the environments, while it is published anywhere (native, services and web, or identity services other apps use) or a publish of it runs.',
    args: { input: t.arg({ type: DeleteAppInput, required: true, description: 'The app to delete.' }) },
    resolve: async (_root, { input }, { domain, principal }) => {
      const result = await domain.apps.delete(principal, localId(input.id, 'App'));
      return result.ok ? { deletedId: input.id, userErrors: [] } : { userErrors: result.userErrors };
    },
  }),
}));
