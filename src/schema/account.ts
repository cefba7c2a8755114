import type { Account, ApiToken, User } from '../domain/accounts.js';
import { CONSOLE_VERSION } from '../domain/environments.js';
import { roles } from '../domain/principal.js';
import { builder } from './builder.js';
import { isPresent, localId, parseRowId } from './ids.js';
import { DeletePayloadRef, toPayload, UserErrorRef, type Payload } from './payloads.js';

export const RoleEnum = builder.enumType('Role', {
  values: {
    ADMIN: { description: 'Everything, including environments, directory, PUBLISH_TO_APP_STORE and other users\' jobs.' },
    MEMBER: { description: 'Upload binaries, publish services and web, publish native as preview, cancel own jobs.' },
    VIEWER: { description: 'Read and subscribe only.' },
  } satisfies Record<(typeof roles)[number], unknown>,
});

export const AccountRef = builder.loadableNode('Account', {
  id: { resolve: (account: Account) => account.id, parse: parseRowId },
  load: async (ids: number[], context) => context.domain.accounts.accountsByIds(context.principal, ids).filter(isPresent),
  sort: (account) => account.id,
  fields: (t) => ({
    name: t.exposeString('name'),
  }),
});

export const UserRef = builder.loadableNode('User', {
  id: { resolve: (user: User) => user.id, parse: parseRowId },
  load: async (ids: number[], context) => context.domain.accounts.usersByIds(context.principal, ids).filter(isPresent),
  sort: (user) => user.id,
  fields: (t) => ({
    email: t.exposeString('email'),
    name: t.exposeString('name'),
    role: t.expose('role', { type: RoleEnum }),
  }),
});

export const ApiTokenRef = builder.loadableNode('ApiToken', {
  id: { resolve: (token: ApiToken) => token.id, parse: parseRowId },
  load: async (ids: number[], context) => context.domain.accounts.tokensByIds(context.principal, ids).filter(isPresent),
  sort: (token) => token.id,
  fields: (t) => ({
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
    user: t.field({ type: UserRef, resolve: (token) => token.userId }),
  }),
});

const ViewerRef = builder.objectRef<{ userId: number; accountId: number }>('Viewer').implement({
  fields: (t) => ({
    user: t.field({ type: UserRef, resolve: (viewer) => viewer.userId }),
    account: t.field({ type: AccountRef, resolve: (viewer) => viewer.accountId }),
    apiTokens: t.field({
      type: [ApiTokenRef],
      description: "The caller's own API tokens (secrets are never shown again).",
      resolve: (_viewer, _args, context) => context.domain.accounts.tokensOf(context.principal),
    }),
  }),
});

const ServerInfoRef = builder.objectRef<{ consoleVersion: string }>('ServerInfo').implement({
  fields: (t) => ({
    consoleVersion: t.exposeString('consoleVersion', {
      description: "Version of this console; each environment's runtime components must match it to publish.",
    }),
  }),
});

builder.queryFields((t) => ({
  viewer: t.field({
    type: ViewerRef,
    resolve: (_root, _args, { principal }) => ({ userId: principal.userId, accountId: principal.accountId }),
  }),
  serverInfo: t.field({ type: ServerInfoRef, resolve: () => ({ consoleVersion: CONSOLE_VERSION }) }),
}));

const CreateApiTokenInput = builder.inputType('CreateApiTokenInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    userId: t.id({ description: 'The user the token acts as; defaults to the caller. Another user needs ADMIN.' }),
  }),
});

const CreateApiTokenPayload = builder
  .objectRef<Payload<'apiToken', ApiToken> & { token?: string | null }>('CreateApiTokenPayload')
  .implement({
    fields: (t) => ({
      token: t.exposeString('token', { nullable: true, description: 'The secret, shown this once; only its hash is stored.' }),
      apiToken: t.field({ type: ApiTokenRef, nullable: true, resolve: (payload) => payload.apiToken ?? null }),
      userErrors: t.field({ type: [UserErrorRef], resolve: (payload) => payload.userErrors }),
    }),
  });

const RevokeApiTokenInput = builder.inputType('RevokeApiTokenInput', {
  fields: (t) => ({ id: t.id({ required: true }) }),
});

const CreateUserInput = builder.inputType('CreateUserInput', {
  fields: (t) => ({
    email: t.string({ required: true }),
    name: t.string({ required: true }),
    role: t.field({ type: RoleEnum, required: true }),
  }),
});

const UserPayload = builder.objectRef<Payload<'user', User>>('UserPayload').implement({
  fields: (t) => ({
    user: t.field({ type: UserRef, nullable: true, resolve: (payload) => payload.user ?? null }),
    userErrors: t.field({ type: [UserErrorRef], resolve: (payload) => payload.userErrors }),
  }),
});

builder.mutationFields((t) => ({
  createApiToken: t.field({
    type: CreateApiTokenPayload,
    args: { input: t.arg({ type: CreateApiTokenInput, required: true }) },
    resolve: (_root, { input }, { domain, principal }) => {
      const result = domain.accounts.createApiToken(principal, {
        name: input.name,
        userId: input.userId == null ? null : (localId(input.userId, 'User') ?? 0),
      });
      return result.ok ? { ...result.value, userErrors: [] } : { userErrors: result.userErrors };
    },
  }),
  revokeApiToken: t.field({
    type: DeletePayloadRef,
    args: { input: t.arg({ type: RevokeApiTokenInput, required: true }) },
    resolve: (_root, { input }, { domain, principal }) => {
      const result = domain.accounts.revokeApiToken(principal, localId(input.id, 'ApiToken'));
      return result.ok ? { deletedId: input.id, userErrors: [] } : { userErrors: result.userErrors };
    },
  }),
  createUser: t.field({
    type: UserPayload,
    description: 'Add a user to the account with a role; give them access with createApiToken(userId).',
    args: { input: t.arg({ type: CreateUserInput, required: true }) },
    resolve: (_root, { input }, { domain, principal }) => toPayload('user', domain.accounts.createUser(principal, input)),
  }),
}));
