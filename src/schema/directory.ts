import { directorySources, type DirectoryGroup, type DirectoryUser } from '../domain/directory.js';
import { builder } from './builder.js';
import { toConnection } from './connection.js';
import { EnvironmentRef } from './environment.js';
import { isPresent, localId, localIds, parseRowId } from './ids.js';
import { toPayload, UserErrorRef, type Payload } from './payloads.js';

export const DirectorySourceEnum = builder.enumType('DirectorySource', {
  values: {
    LOCAL: {},
    ACTIVE_DIRECTORY: {},
    SAP: {},
    CLOUD: { description: 'Cloud users exist in the directory but can never be targeted.' },
  } satisfies Record<(typeof directorySources)[number], unknown>,
});

export const DirectoryUserRef = builder.loadableNodeRef('DirectoryUser', {
  id: { resolve: (user: DirectoryUser) => user.id, parse: parseRowId },
  load: async (ids: number[], context) => context.domain.directory.usersByIds(context.principal, ids).filter(isPresent),
  sort: (user) => user.id,
});

export const DirectoryGroupRef = builder.loadableNodeRef('DirectoryGroup', {
  id: { resolve: (group: DirectoryGroup) => group.id, parse: parseRowId },
  load: async (ids: number[], context) => context.domain.directory.groupsByIds(context.principal, ids).filter(isPresent),
  sort: (group) => group.id,
});

DirectoryUserRef.implement({
  isTypeOf: (value) => typeof value === 'object' && value !== null && 'username' in value,
  fields: (t) => ({
    username: t.exposeString('username'),
    displayName: t.exposeString('displayName'),
    email: t.exposeString('email', { nullable: true }),
    source: t.expose('source', { type: DirectorySourceEnum }),
    groups: t.loadableList({
      type: DirectoryGroupRef,
      load: async (userIds: number[], context) => context.domain.directory.groupsOfUsers(userIds),
      resolve: (user) => user.id,
    }),
  }),
});

DirectoryGroupRef.implement({
  isTypeOf: (value) => typeof value === 'object' && value !== null && 'name' in value && !('username' in value),
  fields: (t) => ({
    name: t.exposeString('name'),
    source: t.expose('source', { type: DirectorySourceEnum }),
    members: t.loadableList({
      type: DirectoryUserRef,
      load: async (groupIds: number[], context) => context.domain.directory.membersOfGroups(groupIds),
      resolve: (group) => group.id,
    }),
  }),
});

export const DirectoryPrincipalUnion = builder.unionType('DirectoryPrincipal', {
  types: [DirectoryUserRef, DirectoryGroupRef],
});

builder.objectFields(EnvironmentRef, (t) => {
  const filters = {
    startsWith: t.arg.string({
      description: 'Case-insensitive first letter (or prefix) of the display name: the A, B, C filter buttons.',
    }),
    search: t.arg.string({ description: 'Case-insensitive substring of username, display name or email.' }),
    source: t.arg({ type: DirectorySourceEnum }),
  };
  return {
    directoryUsers: t.connection({
      type: DirectoryUserRef,
      args: filters,
      resolve: (environment, args, { domain }) => toConnection(domain.directory.users(environment.id, args)),
    }, { name: 'DirectoryUserConnection' }, { name: 'DirectoryUserEdge' }),
    directoryGroups: t.connection({
      type: DirectoryGroupRef,
      args: filters,
      resolve: (environment, args, { domain }) => toConnection(domain.directory.groups(environment.id, args)),
    }, { name: 'DirectoryGroupConnection' }, { name: 'DirectoryGroupEdge' }),
  };
});

const CreateDirectoryUserInput = builder.inputType('CreateDirectoryUserInput', {
  fields: (t) => ({
    environmentId: t.id({ required: true }),
    username: t.string({ required: true }),
    displayName: t.string({ required: true }),
    email: t.string(),
    source: t.field({ type: DirectorySourceEnum, required: true }),
    groupIds: t.idList(),
  }),
});

const CreateDirectoryGroupInput = builder.inputType('CreateDirectoryGroupInput', {
  fields: (t) => ({
    environmentId: t.id({ required: true }),
    name: t.string({ required: true }),
    source: t.field({ type: DirectorySourceEnum, required: true }),
    memberIds: t.idList(),
  }),
});

const DirectoryUserPayload = builder.objectRef<Payload<'user', DirectoryUser>>('DirectoryUserPayload').implement({
  fields: (t) => ({
    user: t.field({ type: DirectoryUserRef, nullable: true, resolve: (payload) => payload.user ?? null }),
    userErrors: t.field({ type: [UserErrorRef], resolve: (payload) => payload.userErrors }),
  }),
});

const DirectoryGroupPayload = builder.objectRef<Payload<'group', DirectoryGroup>>('DirectoryGroupPayload').implement({
  fields: (t) => ({
    group: t.field({ type: DirectoryGroupRef, nullable: true, resolve: (payload) => payload.group ?? null }),
    userErrors: t.field({ type: [UserErrorRef], resolve: (payload) => payload.userErrors }),
  }),
});

builder.mutationFields((t) => ({
  createDirectoryUser: t.field({
    type: DirectoryUserPayload,
    args: { input: t.arg({ type: CreateDirectoryUserInput, required: true }) },
    resolve: (_root, { input }, { domain, principal }) =>
      toPayload(
        'user',
        domain.directory.createUser(principal, {
          ...input,
          environmentId: localId(input.environmentId, 'Environment'),
          groupIds: localIds(input.groupIds, 'DirectoryGroup'),
        }),
      ),
  }),
  createDirectoryGroup: t.field({
    type: DirectoryGroupPayload,
    args: { input: t.arg({ type: CreateDirectoryGroupInput, required: true }) },
    resolve: (_root, { input }, { domain, principal }) =>
      toPayload(
        'group',
        domain.directory.createGroup(principal, {
          ...input,
          environmentId: localId(input.environmentId, 'Environment'),
          memberIds: localIds(input.memberIds, 'DirectoryUser'),
        }),
      ),
  }),
}));
