import type { DirectoryGroup, DirectoryUser } from '../domain/directory.js';
import { directorySources } from '../domain/vocabulary.js';
import type { UserError } from '../domain/result.js';
import { can } from '../domain/policy.js';
import { builder } from './builder.js';
import { toConnection } from './connection.js';
import { EnvironmentRef } from './environment.js';
import { isPresent, localId, localIds, parseRowId } from './ids.js';
import { DeletePayloadRef, toPayload, UserErrorRef, type Payload } from './payloads.js';

export const DirectorySourceEnum = builder.enumType('DirectorySource', {
  description: 'Where a directory user or group comes from.',
  values: {
    LOCAL: { description: "Kept in the environment's own directory." },
    ACTIVE_DIRECTORY: { description: 'Synchronised from Active Directory.' },
    SAP: { description: 'Synchronised from SAP.' },
    CLOUD: { description: 'Cloud users exist in the directory but can never be targeted.' },
  } satisfies Record<(typeof directorySources)[number], unknown>,
});

export const DirectoryUserRef = builder.loadableNodeRef('DirectoryUser', {
  id: { resolve: (user: DirectoryUser) => user.id, parse: parseRowId },
  load: async (ids: number[], context) => (await context.domain.directory.usersByIds(context.principal, ids)).filter(isPresent),
  sort: (user) => user.id,
});

export const DirectoryGroupRef = builder.loadableNodeRef('DirectoryGroup', {
  id: { resolve: (group: DirectoryGroup) => group.id, parse: parseRowId },
  load: async (ids: number[], context) => (await context.domain.directory.groupsByIds(context.principal, ids)).filter(isPresent),
  sort: (group) => group.id,
});

DirectoryUserRef.implement({
  description: "A person in an environment's directory, whom native apps can target (Enterprise Store).",
  isTypeOf: (value) => typeof value === 'object' && value !== null && 'username' in value,
  fields: (t) => ({
    username: t.exposeString('username', { description: 'Unique in the environment, case-insensitively; immutable.' }),
    displayName: t.exposeString('displayName', { description: 'The name shown and sorted by.' }),
    email: t.exposeString('email', { nullable: true, description: 'Email address, where known.' }),
    source: t.expose('source', { type: DirectorySourceEnum, description: 'Where the user comes from.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the user was added.' }),
    updatedAt: t.field({
      type: 'DateTime',
      description: 'When the user last changed; the creation time until then.',
      resolve: (user) => user.updatedAt ?? user.createdAt,
    }),
    viewerCanUpdate: t.boolean({
      description: "Whether the caller's role allows updateDirectoryUser (ADMIN).",
      resolve: (_user, _args, { principal }) => can(principal, 'manageDirectory'),
    }),
    viewerCanDelete: t.boolean({
      description: "Whether the caller's role allows deleteDirectoryUser (ADMIN).",
      resolve: (_user, _args, { principal }) => can(principal, 'manageDirectory'),
    }),
    groups: t.loadableList({
      type: DirectoryGroupRef,
      description: 'The groups the user belongs to, by name.',
      load: async (userIds: number[], context) => context.domain.directory.groupsOfUsers(userIds),
      resolve: (user) => user.id,
    }),
  }),
});

DirectoryGroupRef.implement({
  description: "A group in an environment's directory; targeting it targets its members.",
  isTypeOf: (value) => typeof value === 'object' && value !== null && 'name' in value && !('username' in value),
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Unique in the environment, case-insensitively.' }),
    source: t.expose('source', { type: DirectorySourceEnum, description: 'Where the group comes from.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the group was added.' }),
    updatedAt: t.field({
      type: 'DateTime',
      description: 'When the group last changed (name or members); the creation time until then.',
      resolve: (group) => group.updatedAt ?? group.createdAt,
    }),
    viewerCanUpdate: t.boolean({
      description: "Whether the caller's role allows updateDirectoryGroup (ADMIN).",
      resolve: (_group, _args, { principal }) => can(principal, 'manageDirectory'),
    }),
    viewerCanDelete: t.boolean({
      description: "Whether the caller's role allows deleteDirectoryGroup (ADMIN).",
      resolve: (_group, _args, { principal }) => can(principal, 'manageDirectory'),
    }),
    members: t.loadableList({
      type: DirectoryUserRef,
      description: 'The users in the group, by display name.',
      load: async (groupIds: number[], context) => context.domain.directory.membersOfGroups(groupIds),
      resolve: (group) => group.id,
    }),
  }),
});

export const DirectoryPrincipalUnion = builder.unionType('DirectoryPrincipal', {
  description: 'A directory user or group: what a native app targets.',
  types: [DirectoryUserRef, DirectoryGroupRef],
});

builder.objectFields(EnvironmentRef, (t) => {
  const filters = {
    startsWith: t.arg.string({
      description: 'Case-insensitive first letter (or prefix) of the display name: the A, B, C filter buttons.',
    }),
    search: t.arg.string({ description: 'Case-insensitive substring of username, display name or email.' }),
    source: t.arg({ type: DirectorySourceEnum, description: 'Only those from this source.' }),
  };
  return {
    directoryUsers: t.connection({
      type: DirectoryUserRef,
      description: "The environment's directory users, by display name.",
      args: filters,
      resolve: async (environment, args, { domain }) => toConnection(await domain.directory.users(environment.id, args)),
    }, { name: 'DirectoryUserConnection', description: 'A page of directory users.' }, { name: 'DirectoryUserEdge', description: 'A directory user in a page, with its cursor.' }),
    directoryGroups: t.connection({
      type: DirectoryGroupRef,
      description: "The environment's directory groups, by name (startsWith and search match the name).",
      args: filters,
      resolve: async (environment, args, { domain }) => toConnection(await domain.directory.groups(environment.id, args)),
    }, { name: 'DirectoryGroupConnection', description: 'A page of directory groups.' }, { name: 'DirectoryGroupEdge', description: 'A directory group in a page, with its cursor.' }),
  };
});

const CreateDirectoryUserInput = builder.inputType('CreateDirectoryUserInput', {
  description: "A new user of an environment's directory.",
  fields: (t) => ({
    environmentId: t.id({ required: true, description: 'The Environment whose directory gets the user.' }),
    username: t.string({ required: true, description: 'Unique in the environment, case-insensitively; cannot change later.' }),
    displayName: t.string({ required: true, description: 'The name shown and sorted by.' }),
    email: t.string({ description: 'Email address.' }),
    source: t.field({ type: DirectorySourceEnum, required: true, description: 'Where the user comes from.' }),
    groupIds: t.idList({ description: 'DirectoryGroups of the same environment to put the user in.' }),
  }),
});

const CreateDirectoryGroupInput = builder.inputType('CreateDirectoryGroupInput', {
  description: "A new group of an environment's directory.",
  fields: (t) => ({
    environmentId: t.id({ required: true, description: 'The Environment whose directory gets the group.' }),
    name: t.string({ required: true, description: 'Unique in the environment, case-insensitively.' }),
    source: t.field({ type: DirectorySourceEnum, required: true, description: 'Where the group comes from.' }),
    memberIds: t.idList({ description: 'DirectoryUsers of the same environment to put in the group.' }),
  }),
});

const UpdateDirectoryUserInput = builder.inputType('UpdateDirectoryUserInput', {
  description: 'Changes to a directory user; absent fields keep their values. Username and source cannot change.',
  fields: (t) => ({
    id: t.id({ required: true, description: 'The DirectoryUser to change.' }),
    displayName: t.string({ description: 'The name shown and sorted by.' }),
    email: t.string({ description: 'Email address; null clears it.' }),
    groupIds: t.idList({ description: "Replaces the user's groups (of the same environment) when given; [] leaves every group." }),
  }),
});

const UpdateDirectoryGroupInput = builder.inputType('UpdateDirectoryGroupInput', {
  description: 'Changes to a directory group; absent fields keep their values. Source cannot change.',
  fields: (t) => ({
    id: t.id({ required: true, description: 'The DirectoryGroup to change.' }),
    name: t.string({ description: 'The new name, unique in the environment.' }),
    memberIds: t.idList({ description: "Replaces the group's members (of the same environment) when given; [] empties it." }),
  }),
});

const DeleteDirectoryUserInput = builder.inputType('DeleteDirectoryUserInput', {
  description: 'The directory user to delete.',
  fields: (t) => ({ id: t.id({ required: true, description: 'The DirectoryUser; their memberships, targets and notifications go with them.' }) }),
});

const DeleteDirectoryGroupInput = builder.inputType('DeleteDirectoryGroupInput', {
  description: 'The directory group to delete.',
  fields: (t) => ({ id: t.id({ required: true, description: 'The DirectoryGroup; its targets go with it, its members stay.' }) }),
});

const DirectoryUserPayload = builder.objectRef<Payload<'user', DirectoryUser>>('DirectoryUserPayload').implement({
  description: 'What createDirectoryUser and updateDirectoryUser answer.',
  fields: (t) => ({
    user: t.field({ type: DirectoryUserRef, nullable: true, description: 'The user as it now stands; null when refused.', resolve: (payload) => payload.user ?? null }),
    userErrors: t.field({ type: [UserErrorRef], description: 'Why the request was refused; empty on success.', resolve: (payload) => payload.userErrors }),
  }),
});

const DirectoryGroupPayload = builder.objectRef<Payload<'group', DirectoryGroup>>('DirectoryGroupPayload').implement({
  description: 'What createDirectoryGroup and updateDirectoryGroup answer.',
  fields: (t) => ({
    group: t.field({ type: DirectoryGroupRef, nullable: true, description: 'The group as it now stands; null when refused.', resolve: (payload) => payload.group ?? null }),
    userErrors: t.field({ type: [UserErrorRef], description: 'Why the request was refused; empty on success.', resolve: (payload) => payload.userErrors }),
  }),
});

const deleted = (id: string, result: { ok: true } | { ok: false; userErrors: UserError[] }) =>
  result.ok ? { deletedId: id, userErrors: [] } : { userErrors: result.userErrors };

builder.mutationFields((t) => ({
  createDirectoryUser: t.field({
    type: DirectoryUserPayload,
    description: "Add a user to an environment's directory (ADMIN).",
    args: { input: t.arg({ type: CreateDirectoryUserInput, required: true, description: 'The new user.' }) },
    resolve: async (_root, { input }, { domain, principal }) =>
      toPayload(
        'user',
        await domain.directory.createUser(principal, {
          ...input,
          environmentId: localId(input.environmentId, 'Environment'),
          groupIds: localIds(input.groupIds, 'DirectoryGroup'),
        }),
      ),
  }),
  createDirectoryGroup: t.field({
    type: DirectoryGroupPayload,
    description: "Add a group to an environment's directory (ADMIN).",
    args: { input: t.arg({ type: CreateDirectoryGroupInput, required: true, description: 'The new group.' }) },
    resolve: async (_root, { input }, { domain, principal }) =>
      toPayload(
        'group',
        await domain.directory.createGroup(principal, {
          ...input,
          environmentId: localId(input.environmentId, 'Environment'),
          memberIds: localIds(input.memberIds, 'DirectoryUser'),
        }),
      ),
  }),
  updateDirectoryUser: t.field({
    type: DirectoryUserPayload,
    description: 'Change a directory user (ADMIN).',
    args: { input: t.arg({ type: UpdateDirectoryUserInput, required: true, description: 'The changes.' }) },
    resolve: async (_root, { input }, { domain, principal }) =>
      toPayload(
        'user',
        await domain.directory.updateUser(principal, {
          ...input,
          id: localId(input.id, 'DirectoryUser'),
          groupIds: localIds(input.groupIds, 'DirectoryGroup'),
        }),
      ),
  }),
  updateDirectoryGroup: t.field({
    type: DirectoryGroupPayload,
    description: 'Rename a directory group or replace its members (ADMIN).',
    args: { input: t.arg({ type: UpdateDirectoryGroupInput, required: true, description: 'The changes.' }) },
    resolve: async (_root, { input }, { domain, principal }) =>
      toPayload(
        'group',
        await domain.directory.updateGroup(principal, {
          ...input,
          id: localId(input.id, 'DirectoryGroup'),
          memberIds: localIds(input.memberIds, 'DirectoryUser'),
        }),
      ),
  }),
  deleteDirectoryUser: t.field({
    type: DeletePayloadRef,
    description: 'Delete a directory user with their memberships, Management targets and notifications (ADMIN); refused (TARGETS_REQUIRED) while they are the only target of an ACTIVE app.',
    args: { input: t.arg({ type: DeleteDirectoryUserInput, required: true, description: 'The user to delete.' }) },
    resolve: async (_root, { input }, { domain, principal }) => deleted(input.id, await domain.directory.deleteUser(principal, localId(input.id, 'DirectoryUser'))),
  }),
  deleteDirectoryGroup: t.field({
    type: DeletePayloadRef,
    description: 'Delete a directory group and its Management targets; its members stay (ADMIN). Refused (TARGETS_REQUIRED) while it is the only target of an ACTIVE app.',
    args: { input: t.arg({ type: DeleteDirectoryGroupInput, required: true, description: 'The group to delete.' }) },
    resolve: async (_root, { input }, { domain, principal }) => deleted(input.id, await domain.directory.deleteGroup(principal, localId(input.id, 'DirectoryGroup'))),
  }),
}));
