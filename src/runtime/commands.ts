import { z } from 'zod';
import { runtimePlatforms } from './schema.js';

const id = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const short = z.string().min(1).max(200);
const platform = z.enum(runtimePlatforms);
const workflowState = z.enum(['DRAFT', 'ACTIVE']);
const managementApp = { appId: id, preview: z.boolean() };

export const restorePointKey = z.string().regex(/^[A-Za-z0-9:._-]{1,200}$/);

/** What a restore point covers (R50): Management apps and/or one app's services. */
export const restoreScope = z.object({
  jobId: id,
  management: z.array(z.object(managementApp)).max(2),
  services: z.object({ appId: id }).nullable(),
});
export type RestoreScope = z.infer<typeof restoreScope>;

/**
 * Every change a runtime accepts (R49: each sent with an idempotency key). One schema serves the
 * embedded runtime's types and the runtime server's validation of what arrives.
 */
export const runtimeCommand = z.discriminatedUnion('type', [
  z.object({ type: z.literal('createRestorePoint'), restorePoint: restorePointKey, scope: restoreScope }),
  z.object({ type: z.literal('restore'), restorePoint: restorePointKey }),
  z.object({ type: z.literal('discardRestorePoint'), restorePoint: restorePointKey }),
  z.object({
    type: z.literal('upsertManagementApp'),
    ...managementApp,
    appName: short.optional(),
    signAction: z.enum(['SIGN_ONLY', 'WRAP_AND_SIGN']),
    description: z.string().max(10_000).nullable(),
    workflowState,
  }),
  z.object({
    type: z.literal('addVersions'),
    ...managementApp,
    versions: z
      .array(
        z.object({
          platform,
          version: short,
          versionKey: short,
          binaryId: id.nullable(),
          bundleId: short.nullable().optional(),
          artifactSha256: sha256,
          signature: z.string().max(1000),
          wrapped: z.boolean(),
          publishJobId: id.nullable(),
        }),
      )
      .max(10),
  }),
  z.object({ type: z.literal('removePlatforms'), ...managementApp, platforms: z.array(platform).max(10) }),
  z.object({ type: z.literal('removeVersion'), ...managementApp, platform, versionKey: short }),
  z.object({ type: z.literal('replaceTargets'), ...managementApp, userIds: z.array(id).max(1000), groupIds: z.array(id).max(1000) }),
  z.object({ type: z.literal('setWorkflowState'), ...managementApp, workflowState }),
  z.object({
    type: z.literal('notify'),
    ...managementApp,
    jobId: id,
    message: z.string().max(10_000),
    userIds: z.array(id).max(100_000),
    /** Each user's store link, where they have one (R55). */
    storePaths: z.array(z.object({ userId: id, path: z.string().regex(/^\/store\/[A-Za-z0-9_-]{16,100}$/) })).max(100_000).optional(),
  }),
  z.object({ type: z.literal('removeManagementApps'), appId: id }),
  z.object({
    type: z.literal('publishIdentityServices'),
    appId: id,
    jobId: id,
    services: z.array(z.object({ name: short, providerType: short })).max(1000),
  }),
  z.object({
    type: z.literal('publishAppServices'),
    appId: id,
    appName: short,
    jobId: id,
    identityServices: z.array(short).max(1000),
    integrationServices: z.array(z.object({ name: short, baseUrl: z.string().url().max(2000) })).max(1000),
  }),
  z.object({
    type: z.literal('putStoreAccess'),
    invitationId: id,
    directoryUserId: id,
    tokenSha256: sha256,
    groupIds: z.array(id).max(1000),
    expiresAt: id,
  }),
  z.object({ type: z.literal('revokeStoreAccess'), invitationId: id }),
  z.object({ type: z.literal('setAppCredentials'), appId: id, appKey: z.string().regex(/^[A-Za-z0-9_-]{16,100}$/), secretSha256: sha256 }),
  z.object({ type: z.literal('deployWebClient'), appId: id, jobId: id, binaryId: id.nullable(), artifactSha256: sha256 }),
  z.object({ type: z.literal('activate'), appId: id }),
  z.object({ type: z.literal('unpublishServices'), appId: id }),
]);
export type RuntimeCommand = z.infer<typeof runtimeCommand>;
export type CommandType = RuntimeCommand['type'];
export type CommandOf<T extends CommandType> = Extract<RuntimeCommand, { type: T }>;

/** What each command answers; repeats of a key answer the same (R49). */
export interface CommandResults {
  createRestorePoint: { created: boolean };
  restore: { restored: boolean };
  discardRestorePoint: { discarded: boolean };
  upsertManagementApp: { managementAppId: number };
  addVersions: { added: number };
  removePlatforms: { removed: number };
  removeVersion: { removed: number };
  replaceTargets: { targets: number };
  setWorkflowState: { workflowState: 'DRAFT' | 'ACTIVE' };
  notify: { notified: number };
  removeManagementApps: { removed: number };
  publishIdentityServices: { published: number };
  publishAppServices: { published: true };
  setAppCredentials: { set: true };
  putStoreAccess: { stored: true };
  revokeStoreAccess: { revoked: boolean };
  deployWebClient: { deployed: true };
  activate: { activated: boolean };
  unpublishServices: { removedIdentityServices: string[] };
}
export type CommandResult<T extends CommandType> = CommandResults[T];
