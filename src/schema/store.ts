import { PublicLinks } from '../domain/links.js';
import type { UserError } from '../domain/result.js';
import type { StoreInvitation } from '../domain/store-invitations.js';
import { builder } from './builder.js';
import { DirectoryUserRef } from './directory.js';
import { isPresent, localId, parseRowId } from './ids.js';
import { StoreNotificationRef } from './management.js';
import { UserErrorRef } from './payloads.js';

const StoreInvitationStateEnum = builder.enumType('StoreInvitationState', {
  description: 'Whether a store link still opens the Enterprise Store.',
  values: { ACTIVE: { description: 'It opens the store.' }, REVOKED: { description: 'An ADMIN revoked it.' }, EXPIRED: { description: 'Its time is up.' } } as const,
});

const StoreInvitationRef = builder.loadableNode('StoreInvitation', {
  description: "A directory user's personal Enterprise Store link (R55). The link itself is shown once, when it is made.",
  id: { resolve: (invitation: StoreInvitation) => invitation.id, parse: parseRowId },
  load: async (ids: number[], context) => (await context.domain.storeInvitations.byIds(context.principal, ids)).filter(isPresent),
  sort: (invitation) => invitation.id,
  fields: (t) => ({
    user: t.field({ type: DirectoryUserRef, description: 'Whose link it is.', resolve: (invitation) => invitation.directoryUserId }),
    state: t.field({
      type: StoreInvitationStateEnum,
      description: 'ACTIVE, REVOKED or EXPIRED, now.',
      resolve: (invitation) => (invitation.revokedAt ? 'REVOKED' : invitation.expiresAt.getTime() <= Date.now() ? 'EXPIRED' : 'ACTIVE'),
    }),
    createdAt: t.field({ type: 'DateTime', description: 'When the link was made.', resolve: (invitation) => invitation.createdAt }),
    expiresAt: t.field({ type: 'DateTime', description: 'When the link stops working.', resolve: (invitation) => invitation.expiresAt }),
    revokedAt: t.field({ type: 'DateTime', nullable: true, description: 'When an ADMIN revoked it.', resolve: (invitation) => invitation.revokedAt }),
  }),
});

builder.objectField(DirectoryUserRef, 'storeInvitations', (t) =>
  t.loadableList({
    type: StoreInvitationRef,
    description: "The user's store links, newest first, without their secrets (R55).",
    load: async (userIds: number[], { domain }) => domain.storeInvitations.ofUsers(userIds),
    resolve: (user) => user.id,
  }),
);

builder.objectField(StoreNotificationRef, 'storeUrl', (t) =>
  t.string({
    nullable: true,
    description: "The user's personal store link, when they had a live one as the notification was made (R55).",
    resolve: async (notification, _args, { domain, origin }) => {
      const environment = await domain.environments.byIdUnscoped(notification.environmentId);
      return notification.storePath && environment ? new PublicLinks(origin).onRuntime(environment, notification.storePath) : null;
    },
  }),
);

const CreateStoreInvitationInput = builder.inputType('CreateStoreInvitationInput', {
  description: 'Whom to invite to the Enterprise Store of their environment, and until when.',
  fields: (t) => ({
    directoryUserId: t.id({ required: true, description: 'The directory user the link is for.' }),
    expiresAt: t.field({ type: 'DateTime', description: 'When the link stops working: in the future, within 366 days; 30 days from now when absent.' }),
  }),
});

const RevokeStoreInvitationInput = builder.inputType('RevokeStoreInvitationInput', {
  description: 'The store link to revoke.',
  fields: (t) => ({ id: t.id({ required: true, description: 'The StoreInvitation id.' }) }),
});

const CreateStoreInvitationPayloadRef = builder
  .objectRef<{ invitation?: StoreInvitation | null; storeUrl?: string | null; userErrors: UserError[] }>('CreateStoreInvitationPayload')
  .implement({
    description: 'The new invitation and its link, or why there is none.',
    fields: (t) => ({
      invitation: t.field({ type: StoreInvitationRef, nullable: true, description: 'The new invitation; null when there are user errors.', resolve: (payload) => payload.invitation ?? null }),
      storeUrl: t.string({
        nullable: true,
        description: "The personal store link: shown this once (only its hash is kept for checking it); the user's notifications carry it too.",
        resolve: (payload) => payload.storeUrl ?? null,
      }),
      userErrors: t.field({ type: [UserErrorRef], description: 'Why nothing was changed; empty on success.', resolve: (payload) => payload.userErrors }),
    }),
  });

const RevokeStoreInvitationPayloadRef = builder.objectRef<{ invitation?: StoreInvitation | null; userErrors: UserError[] }>('RevokeStoreInvitationPayload').implement({
  description: 'The revoked invitation, or why it was not revoked.',
  fields: (t) => ({
    invitation: t.field({ type: StoreInvitationRef, nullable: true, description: 'The revoked invitation; null when there are user errors.', resolve: (payload) => payload.invitation ?? null }),
    userErrors: t.field({ type: [UserErrorRef], description: 'Why nothing was changed; empty on success.', resolve: (payload) => payload.userErrors }),
  }),
});

builder.mutationFields((t) => ({
  createStoreInvitation: t.field({
    type: CreateStoreInvitationPayloadRef,
    description: 'R55: a personal Enterprise Store link for a directory user (ADMIN).',
    args: { input: t.arg({ type: CreateStoreInvitationInput, required: true, description: 'Whom the link is for, and until when.' }) },
    resolve: async (_root, { input }, { domain, principal, origin }) => {
      const result = await domain.storeInvitations.create(principal, { directoryUserId: localId(input.directoryUserId, 'DirectoryUser'), expiresAt: input.expiresAt ?? null });
      if (!result.ok) return { invitation: null, storeUrl: null, userErrors: result.userErrors };
      const { invitation, token, environment } = result.value;
      return { invitation, storeUrl: new PublicLinks(origin).store(environment, token), userErrors: [] };
    },
  }),
  revokeStoreInvitation: t.field({
    type: RevokeStoreInvitationPayloadRef,
    description: 'R55: the link stops opening the store at once (ADMIN).',
    args: { input: t.arg({ type: RevokeStoreInvitationInput, required: true, description: 'The invitation to revoke.' }) },
    resolve: async (_root, { input }, { domain, principal }) => {
      const result = await domain.storeInvitations.revoke(principal, localId(input.id, 'StoreInvitation'));
      return result.ok ? { invitation: result.value, userErrors: [] } : { invitation: null, userErrors: result.userErrors };
    },
  }),
}));
