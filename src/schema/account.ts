import type { Account, ApiToken, User, UserOrderField } from '../domain/accounts.js';
import { CONSOLE_VERSION } from '../domain/environments.js';
import { can } from '../domain/policy.js';
import { roles } from '../domain/vocabulary.js';
import { builder } from './builder.js';
import { orderByInput, toConnection } from './connection.js';
import { isPresent, localId, parseRowId } from './ids.js';
import { DeletePayloadRef, toPayload, UserErrorRef, type Payload } from './payloads.js';

export const RoleEnum = builder.enumType('Role', {
  description: "What a user may do in the account (R7); an API token acts with its user's role.",
  values: {
    ADMIN: { description: 'Everything, including environments, directory, PUBLISH_TO_APP_STORE and other users\' jobs.' },
    MEMBER: { description: 'Upload binaries, publish services and web, publish native as preview, cancel own jobs.' },
    VIEWER: { description: 'Read and subscribe only.' },
  } satisfies Record<(typeof roles)[number], unknown>,
});

export const UserRef = builder.loadableNodeRef('User', {
  id: { resolve: (user: User) => user.id, parse: parseRowId },
  load: async (ids: number[], context) => (await context.domain.accounts.usersByIds(context.principal, ids)).filter(isPresent),
  sort: (user) => user.id,
});

const UserOrderFieldEnum = builder.enumType('UserOrderField', {
  description: 'What the users of an account can be ordered by.',
  values: {
    NAME: { description: 'Name, case-insensitively (the default, ascending).' },
    EMAIL: { description: 'Email address, case-insensitively.' },
    CREATED_AT: { description: 'When the user was added.' },
  } satisfies Record<UserOrderField, unknown>,
});

const UserOrder = orderByInput('UserOrder', UserOrderFieldEnum, 'the users of an account');

export const AccountRef = builder.loadableNode('Account', {
  description: 'The tenant: everything a user sees belongs to their one account (R6).',
  id: { resolve: (account: Account) => account.id, parse: parseRowId },
  load: async (ids: number[], context) => (await context.domain.accounts.accountsByIds(context.principal, ids)).filter(isPresent),
  sort: (account) => account.id,
  fields: (t) => ({
    name: t.exposeString('name', { description: "The account's display name." }),
    users: t.connection(
      {
        type: UserRef,
        description: "The account's users, deactivated ones included; by name unless `orderBy` says otherwise.",
        args: { orderBy: t.arg({ type: UserOrder, description: 'Order of the list; defaults to NAME ascending.' }) },
        resolve: async (_account, args, { domain, principal }) => toConnection(await domain.accounts.listUsers(principal, args)),
      },
      { name: 'UserConnection', description: 'A page of users.' },
      { name: 'UserEdge', description: 'A user in a page, with its cursor.' },
    ),
    viewerCanManageUsers: t.boolean({
      description: "Whether the caller's role allows createUser and updateUser (ADMIN).",
      resolve: (_account, _args, { principal }) => can(principal, 'manageUsers'),
    }),
    viewerCanManageApps: t.boolean({
      description: "Whether the caller's role allows createApp, updateApp and deleteApp (ADMIN).",
      resolve: (_account, _args, { principal }) => can(principal, 'manageApps'),
    }),
    viewerCanManageEnvironments: t.boolean({
      description: "Whether the caller's role allows createEnvironment, updateEnvironment and deleteEnvironment (ADMIN).",
      resolve: (_account, _args, { principal }) => can(principal, 'manageEnvironments'),
    }),
  }),
});

UserRef.implement({
  description: 'A person of the account who calls the API with their API tokens.',
  fields: (t) => ({
    email: t.exposeString('email', { description: 'Unique across Shipyard, compared case-insensitively.' }),
    name: t.exposeString('name', { description: 'Display name.' }),
    role: t.expose('role', { type: RoleEnum, description: 'What the user may do (R7).' }),
    deactivated: t.boolean({
      description: "True while the user is deactivated: their tokens are refused (401) until they are reactivated.",
      resolve: (user) => user.deactivatedAt !== null,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the user was added.' }),
    updatedAt: t.field({
      type: 'DateTime',
      description: 'When the role or activation last changed; the creation time until then.',
      resolve: (user) => user.updatedAt ?? user.createdAt,
    }),
    viewerCanUpdate: t.boolean({
      description: "Whether the caller's role allows updateUser on this user (ADMIN); the last active ADMIN is still protected.",
      resolve: (_user, _args, { principal }) => can(principal, 'manageUsers'),
    }),
  }),
});

export const ApiTokenRef = builder.loadableNode('ApiToken', {
  description: 'A bearer token of a user; only its SHA-256 is stored, so its secret is shown once, at creation.',
  id: { resolve: (token: ApiToken) => token.id, parse: parseRowId },
  load: async (ids: number[], context) => (await context.domain.accounts.tokensByIds(context.principal, ids)).filter(isPresent),
  sort: (token) => token.id,
  fields: (t) => ({
    name: t.exposeString('name', { description: 'What the token is for, as its creator named it.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the token was created.' }),
    lastUsedAt: t.expose('lastUsedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the token last authenticated a request, to the minute (reads do not each write it); null if never.',
    }),
    expiresAt: t.expose('expiresAt', {
      type: 'DateTime',
      nullable: true,
      description: 'After this the token is refused and its open subscriptions end; null if it does not expire.',
    }),
    user: t.field({ type: UserRef, description: 'The user the token acts as.', resolve: (token) => token.userId }),
    viewerCanRevoke: t.boolean({
      description: "Whether the caller may revoke this token: their own always, anyone's as ADMIN.",
      resolve: (token, _args, { principal }) => can(principal, 'manageTokens', { userId: token.userId }),
    }),
  }),
});

const ViewerRef = builder.objectRef<{ userId: number; accountId: number }>('Viewer').implement({
  description: 'The caller: the user behind the API token of this request.',
  fields: (t) => ({
    user: t.field({ type: UserRef, description: 'The calling user.', resolve: (viewer) => viewer.userId }),
    account: t.field({ type: AccountRef, description: "The caller's account.", resolve: (viewer) => viewer.accountId }),
    apiTokens: t.field({
      type: [ApiTokenRef],
      description: "The caller's own API tokens (secrets are never shown again).",
      resolve: async (_viewer, _args, context) => context.domain.accounts.tokensOf(context.principal),
    }),
  }),
});

const ServerInfoRef = builder.objectRef<{ consoleVersion: string }>('ServerInfo').implement({
  description: 'Facts about this Shipyard server.',
  fields: (t) => ({
    consoleVersion: t.exposeString('consoleVersion', {
      description: "Version of this console; each environment's runtime components must match it to publish.",
    }),
  }),
});

builder.queryFields((t) => ({
  viewer: t.field({
    type: ViewerRef,
    description: 'Who is calling: start here for the account, its users and your own tokens.',
    resolve: (_root, _args, { principal }) => ({ userId: principal.userId, accountId: principal.accountId }),
  }),
  serverInfo: t.field({ type: ServerInfoRef, description: 'Version information of this server.', resolve: () => ({ consoleVersion: CONSOLE_VERSION }) }),
}));

const CreateApiTokenInput = builder.inputType('CreateApiTokenInput', {
  description: 'A new API token.',
  fields: (t) => ({
    name: t.string({ required: true, description: 'What the token is for (1 to 200 characters).' }),
    userId: t.id({ description: 'The user the token acts as; defaults to the caller. Another user needs ADMIN.' }),
    expiresAt: t.field({
      type: 'DateTime',
      description: 'When the token stops working (must be in the future); omitted or null: it works until revoked.',
    }),
  }),
});

const CreateApiTokenPayload = builder
  .objectRef<Payload<'apiToken', ApiToken> & { token?: string | null }>('CreateApiTokenPayload')
  .implement({
    description: 'What createApiToken answers.',
    fields: (t) => ({
      token: t.exposeString('token', { nullable: true, description: 'The secret, shown this once; only its hash is stored.' }),
      apiToken: t.field({ type: ApiTokenRef, nullable: true, description: 'The token created; null when refused.', resolve: (payload) => payload.apiToken ?? null }),
      userErrors: t.field({ type: [UserErrorRef], description: 'Why the request was refused; empty on success.', resolve: (payload) => payload.userErrors }),
    }),
  });

const RevokeApiTokenInput = builder.inputType('RevokeApiTokenInput', {
  description: 'The token to revoke.',
  fields: (t) => ({ id: t.id({ required: true, description: 'The ApiToken; it stops authenticating at once.' }) }),
});

const CreateUserInput = builder.inputType('CreateUserInput', {
  description: 'A new user of the account.',
  fields: (t) => ({
    email: t.string({ required: true, description: 'Unique across Shipyard.' }),
    name: t.string({ required: true, description: 'Display name (1 to 200 characters).' }),
    role: t.field({ type: RoleEnum, required: true, description: 'What the user may do.' }),
  }),
});

const UpdateUserInput = builder.inputType('UpdateUserInput', {
  description: "Changes to a user of the account; absent fields keep their values.",
  fields: (t) => ({
    userId: t.id({ required: true, description: 'The User to change.' }),
    role: t.field({ type: RoleEnum, description: 'The new role; takes effect with their next request.' }),
    deactivated: t.boolean({
      description: "True deactivates the user: their tokens are refused from the next request and their open streams end. False reactivates them.",
    }),
  }),
});

const UserPayload = builder.objectRef<Payload<'user', User>>('UserPayload').implement({
  description: 'What createUser and updateUser answer.',
  fields: (t) => ({
    user: t.field({ type: UserRef, nullable: true, description: 'The user as it now stands; null when refused.', resolve: (payload) => payload.user ?? null }),
    userErrors: t.field({ type: [UserErrorRef], description: 'Why the request was refused; empty on success.', resolve: (payload) => payload.userErrors }),
  }),
});

builder.mutationFields((t) => ({
  createApiToken: t.field({
    type: CreateApiTokenPayload,
    description: 'Create an API token for yourself, or (as ADMIN) for another user of the account; its secret is shown once.',
    args: { input: t.arg({ type: CreateApiTokenInput, required: true, description: 'The new token.' }) },
    resolve: async (_root, { input }, { domain, principal }) => {
      const result = await domain.accounts.createApiToken(principal, {
        name: input.name,
        userId: input.userId == null ? null : (localId(input.userId, 'User') ?? 0),
        expiresAt: input.expiresAt ?? null,
      });
      return result.ok ? { ...result.value, userErrors: [] } : { userErrors: result.userErrors };
    },
  }),
  revokeApiToken: t.field({
    type: DeletePayloadRef,
    description: "Revoke an API token: your own, or (as ADMIN) anyone's in the account.",
    args: { input: t.arg({ type: RevokeApiTokenInput, required: true, description: 'The token to revoke.' }) },
    resolve: async (_root, { input }, { domain, principal }) => {
      const result = await domain.accounts.revokeApiToken(principal, localId(input.id, 'ApiToken'));
      return result.ok ? { deletedId: input.id, userErrors: [] } : { userErrors: result.userErrors };
    },
  }),
  createUser: t.field({
    type: UserPayload,
    description: 'Add a user to the account with a role; give them access with createApiToken(userId).',
    args: { input: t.arg({ type: CreateUserInput, required: true, description: 'The new user.' }) },
    resolve: async (_root, { input }, { domain, principal }) => toPayload('user', await domain.accounts.createUser(principal, input)),
  }),
  updateUser: t.field({
    type: UserPayload,
    description:
      'Change a user\'s role or deactivate them (ADMIN). A deactivated user\'s tokens stop at once; the last active ADMIN cannot be demoted or deactivated (LAST_ADMIN).',
    args: { input: t.arg({ type: UpdateUserInput, required: true, description: 'The changes.' }) },
    resolve: async (_root, { input }, { domain, principal }) =>
      toPayload('user', await domain.accounts.updateUser(principal, { ...input, userId: localId(input.userId, 'User') })),
  }),
}));
