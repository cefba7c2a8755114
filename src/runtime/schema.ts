import { sql } from 'drizzle-orm';
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/**
 * A runtime's own tables (R45): the embedded runtime keeps them in Shipyard's database file, a
 * runtime server in its own. Ids of Shipyard's objects (environments, apps, directory users,
 * binaries, jobs) are stored as plain numbers: the runtime does not share Shipyard's tables, so
 * they carry no foreign keys to them. A runtime server keeps one environment, numbered 0.
 */

export const runtimePlatforms = ['IOS_PHONE', 'IOS_TABLET', 'ANDROID_PHONE', 'ANDROID_TABLET', 'WINDOWS', 'WEB'] as const;

/** Content-addressed files of the runtime's blob store, one row per SHA-256 it holds. */
export const runtimeBlobs = sqliteTable('runtime_blobs', {
  sha256: text('sha256').primaryKey(),
  sizeBytes: integer('size_bytes').notNull(),
  receivedAt: integer('received_at', { mode: 'timestamp_ms' }).notNull(),
});

/** Volt MX Management: one app per environment, app and preview flag. */
export const managementApps = sqliteTable(
  'management_apps',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    environmentId: integer('environment_id').notNull(),
    appId: integer('app_id').notNull(),
    /** The title the Enterprise Store shows (R55). */
    appName: text('app_name').notNull().default(''),
    preview: integer('preview', { mode: 'boolean' }).notNull(),
    workflowState: text('workflow_state', { enum: ['DRAFT', 'ACTIVE'] }).notNull(),
    signAction: text('sign_action', { enum: ['SIGN_ONLY', 'WRAP_AND_SIGN'] }).notNull(),
    description: text('description'),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [uniqueIndex('management_apps_env_app_preview_unique').on(t.environmentId, t.appId, t.preview)],
);

export const managementVersions = sqliteTable(
  'management_versions',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    managementAppId: integer('management_app_id')
      .notNull()
      .references(() => managementApps.id, { onDelete: 'cascade' }),
    platform: text('platform', { enum: runtimePlatforms }).notNull(),
    version: text('version').notNull(),
    versionKey: text('version_key').notNull(),
    binaryId: integer('binary_id'),
    /** The binary's bundle id or package, for the iOS install manifest (R55). */
    bundleId: text('bundle_id'),
    artifactSha256: text('artifact_sha256').notNull(),
    signature: text('signature').notNull(),
    wrapped: integer('wrapped', { mode: 'boolean' }).notNull(),
    publishedAt: integer('published_at', { mode: 'timestamp_ms' }).notNull(),
    publishJobId: integer('publish_job_id'),
  },
  (t) => [
    uniqueIndex('management_versions_app_platform_version_unique').on(t.managementAppId, t.platform, t.versionKey),
    index('management_versions_binary_idx').on(t.binaryId),
    index('management_versions_artifact_idx').on(t.artifactSha256),
  ],
);

/** A Management app's targets: directory users or groups, exactly one per row. */
export const managementTargets = sqliteTable(
  'management_targets',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    managementAppId: integer('management_app_id')
      .notNull()
      .references(() => managementApps.id, { onDelete: 'cascade' }),
    userId: integer('user_id'),
    groupId: integer('group_id'),
  },
  (t) => [
    index('management_targets_app_idx').on(t.managementAppId),
    check('management_targets_one_principal', sql`(${t.userId} is null) <> (${t.groupId} is null)`),
  ],
);

export const storeNotifications = sqliteTable(
  'store_notifications',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    environmentId: integer('environment_id').notNull().default(0),
    directoryUserId: integer('directory_user_id').notNull(),
    managementAppId: integer('management_app_id')
      .notNull()
      .references(() => managementApps.id, { onDelete: 'cascade' }),
    publishJobId: integer('publish_job_id'),
    message: text('message').notNull(),
    /** The user's store link under the runtime's base URL (`/store/<token>`), when they had one (R55). */
    storePath: text('store_path'),
    createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [index('store_notifications_user_idx').on(t.environmentId, t.directoryUserId, t.id), index('store_notifications_job_idx').on(t.publishJobId)],
);

/** R37: identity services as published to an environment, shared by every app there that uses them. */
export const publishedIdentityServices = sqliteTable(
  'published_identity_services',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    environmentId: integer('environment_id').notNull(),
    name: text('name').notNull(),
    providerType: text('provider_type').notNull(),
    publishedByAppId: integer('published_by_app_id').notNull(),
    publishedAt: integer('published_at', { mode: 'timestamp_ms' }).notNull(),
    publishJobId: integer('publish_job_id'),
  },
  (t) => [uniqueIndex('published_identity_services_env_name_unique').on(t.environmentId, sql`lower(${t.name})`)],
);

/** An app's services as an environment serves them (R36): present while published. */
export const publishedAppServices = sqliteTable(
  'published_app_services',
  {
    appId: integer('app_id').notNull(),
    environmentId: integer('environment_id').notNull(),
    /** The app's name as published: its web client and SDK configuration live under `/apps/<name>/` (R53, R54). */
    appName: text('app_name').notNull().default(''),
    /** Names of the identity services this publication uses, as JSON. */
    identityServices: text('identity_services').notNull(),
    /** The app's integration services as published, `[{ name, baseUrl }]` as JSON (R54). */
    integrationServices: text('integration_services').notNull().default('[]'),
    publishedAt: integer('published_at', { mode: 'timestamp_ms' }).notNull(),
    activatedAt: integer('activated_at', { mode: 'timestamp_ms' }),
    publishJobId: integer('publish_job_id'),
  },
  (t) => [
    primaryKey({ columns: [t.appId, t.environmentId] }),
    index('published_app_services_env_idx').on(t.environmentId),
    index('published_app_services_name_idx').on(t.environmentId, sql`lower(${t.appName})`),
  ],
);

/**
 * R54: an app's key and the SHA-256 of its secret in an environment. The secret is 32 random
 * bytes, so a fast hash is enough: nothing can be guessed from it. Kept across unpublishing and
 * rollbacks, as the key is stable once made.
 */
export const appCredentials = sqliteTable(
  'app_credentials',
  {
    appId: integer('app_id').notNull(),
    environmentId: integer('environment_id').notNull(),
    appKey: text('app_key').notNull(),
    secretSha256: text('secret_sha256').notNull(),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.appId, t.environmentId] }), uniqueIndex('app_credentials_key_unique').on(t.environmentId, t.appKey)],
);

/** R38: the one live web client of an app in an environment. */
export const liveWebClients = sqliteTable(
  'live_web_clients',
  {
    appId: integer('app_id').notNull(),
    environmentId: integer('environment_id').notNull(),
    binaryId: integer('binary_id'),
    /** The deployed file in the runtime's blob store. */
    artifactSha256: text('artifact_sha256').notNull(),
    deployedAt: integer('deployed_at', { mode: 'timestamp_ms' }).notNull(),
    publishJobId: integer('publish_job_id'),
  },
  (t) => [primaryKey({ columns: [t.appId, t.environmentId] }), index('live_web_clients_artifact_idx').on(t.artifactSha256)],
);

/**
 * R50: what a job may change, kept before its first change so that it can be put back.
 * `held` lists the blobs the point keeps alive (those its image refers to and those sent for it).
 */
export const runtimeRestorePoints = sqliteTable(
  'runtime_restore_points',
  {
    key: text('key').primaryKey(),
    environmentId: integer('environment_id').notNull(),
    image: text('image').notNull(),
    held: text('held').notNull().default('[]'),
    createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [index('runtime_restore_points_env_idx').on(t.environmentId)],
);

/** R49: every change applied, by idempotency key, with the answer it gave the first time. */
export const runtimeCommands = sqliteTable('runtime_commands', {
  key: text('key').primaryKey(),
  environmentId: integer('environment_id').notNull(),
  type: text('type').notNull(),
  result: text('result').notNull(),
  appliedAt: integer('applied_at', { mode: 'timestamp_ms' }).notNull(),
});

/**
 * R55: who may open the Enterprise Store at a link: the SHA-256 of the link's token, the
 * directory user and the groups they were in when Shipyard last told the runtime.
 */
export const storeAccess = sqliteTable(
  'store_access',
  {
    invitationId: integer('invitation_id').notNull(),
    environmentId: integer('environment_id').notNull(),
    directoryUserId: integer('directory_user_id').notNull(),
    tokenSha256: text('token_sha256').notNull(),
    /** The user's directory groups, as JSON. */
    groupIds: text('group_ids').notNull(),
    expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
    revoked: integer('revoked', { mode: 'boolean' }).notNull().default(false),
  },
  (t) => [primaryKey({ columns: [t.environmentId, t.invitationId] }), uniqueIndex('store_access_token_unique').on(t.tokenSha256)],
);
