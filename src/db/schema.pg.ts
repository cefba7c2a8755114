import { sql } from 'drizzle-orm';
import { bigint, check, index, integer, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { clientPlatforms, directorySources, jobStates, roles } from '../domain/vocabulary.js';
import { oneOf } from './one-of.js';

/**
 * The main database's tables as PostgreSQL declares them, read only by drizzle-kit to write the
 * PostgreSQL migrations (drizzle.pg.config.ts). Queries never use these objects: PostgreSQL runs
 * the SQLite declarations (`schema.ts`, `../runtime/schema.ts`) through its own dialect, so each
 * column here stores what the SQLite column hands the driver: milliseconds as bigint, booleans
 * as 0/1, JSON as text. test/schema-parity.test.ts holds the two declarations to the same tables,
 * columns, keys, indexes and checks.
 */

/** An id the database numbers; by default, so that a row may still be given its id. */
const id = () => integer('id').primaryKey().generatedByDefaultAsIdentity();
/** Milliseconds since the epoch, as `integer({ mode: 'timestamp_ms' })` writes them. */
const ms = (name: string) => bigint(name, { mode: 'number' });
/** 0 or 1, as `integer({ mode: 'boolean' })` writes it. */
const flag = (name: string) => integer(name);
const createdAt = () => ms('created_at').notNull();
const updatedAt = () => ms('updated_at');

export const accounts = pgTable('accounts', {
  id: id(),
  name: text('name').notNull(),
  createdAt: createdAt(),
});

export const users = pgTable(
  'users',
  {
    id: id(),
    accountId: integer('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    email: text('email').notNull(),
    name: text('name').notNull(),
    role: text('role').notNull(),
    deactivatedAt: ms('deactivated_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('users_account_email_unique').on(t.accountId, sql`lower(${t.email})`),
    index('users_account_idx').on(t.accountId),
    check('users_role_check', oneOf(t.role, roles)),
  ],
);

export const apiTokens = pgTable(
  'api_tokens',
  {
    id: id(),
    accountId: integer('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    tokenSha256: text('token_sha256').notNull().unique(),
    createdAt: createdAt(),
    lastUsedAt: ms('last_used_at'),
    expiresAt: ms('expires_at'),
  },
  (t) => [index('api_tokens_user_idx').on(t.userId)],
);

export const apps = pgTable(
  'apps',
  {
    id: id(),
    accountId: integer('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('apps_account_name_unique').on(t.accountId, sql`lower(${t.name})`)],
);

export const appIdentityServices = pgTable(
  'app_identity_services',
  {
    appId: integer('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    providerType: text('provider_type').notNull(),
    position: integer('position').notNull(),
  },
  (t) => [primaryKey({ columns: [t.appId, t.name] })],
);

export const appIntegrationServices = pgTable(
  'app_integration_services',
  {
    appId: integer('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    baseUrl: text('base_url').notNull(),
    position: integer('position').notNull(),
  },
  (t) => [primaryKey({ columns: [t.appId, t.name] })],
);

export const environments = pgTable(
  'environments',
  {
    id: id(),
    accountId: integer('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    url: text('url'),
    allowManualPublishOnly: flag('allow_manual_publish_only').notNull().default(0),
    managementEnabled: flag('management_enabled').notNull().default(0),
    integrationVersion: text('integration_version').notNull(),
    syncVersion: text('sync_version').notNull(),
    messagingVersion: text('messaging_version').notNull(),
    runtimeAnswered: flag('runtime_answered'),
    statusReason: text('status_reason'),
    runtimeToken: text('runtime_token'),
    statusCheckedAt: ms('status_checked_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('environments_account_name_unique').on(t.accountId, sql`lower(${t.name})`),
    uniqueIndex('environments_account_url_unique').on(t.accountId, t.url),
  ],
);

export const directoryUsers = pgTable(
  'directory_users',
  {
    id: id(),
    accountId: integer('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    environmentId: integer('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    username: text('username').notNull(),
    displayName: text('display_name').notNull(),
    email: text('email'),
    source: text('source').notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('directory_users_env_username_unique').on(t.environmentId, sql`lower(${t.username})`),
    index('directory_users_env_display_idx').on(t.environmentId, sql`lower(${t.displayName})`, t.id),
    check('directory_users_source_check', oneOf(t.source, directorySources)),
  ],
);

export const directoryGroups = pgTable(
  'directory_groups',
  {
    id: id(),
    accountId: integer('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    environmentId: integer('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    source: text('source').notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('directory_groups_env_name_unique').on(t.environmentId, sql`lower(${t.name})`),
    check('directory_groups_source_check', oneOf(t.source, directorySources)),
  ],
);

export const directoryGroupMembers = pgTable(
  'directory_group_members',
  {
    groupId: integer('group_id')
      .notNull()
      .references(() => directoryGroups.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => directoryUsers.id, { onDelete: 'cascade' }),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.userId] }), index('directory_group_members_user_idx').on(t.userId)],
);

export const blobs = pgTable('blobs', {
  sha256: text('sha256').primaryKey(),
  // Files may pass 2 GiB, beyond a 4-byte integer.
  sizeBytes: bigint('size_bytes', { mode: 'number' }).notNull(),
  createdAt: createdAt(),
});

export const clientBinaries = pgTable(
  'client_binaries',
  {
    id: id(),
    accountId: integer('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    appId: integer('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    platform: text('platform').notNull(),
    version: text('version').notNull(),
    versionKey: text('version_key').notNull(),
    listKey: text('list_key').notNull(),
    description: text('description'),
    fileName: text('file_name').notNull(),
    sizeBytes: bigint('size_bytes', { mode: 'number' }).notNull(),
    sha256: text('sha256')
      .notNull()
      .references(() => blobs.sha256),
    bundleId: text('bundle_id'),
    uploadedBy: integer('uploaded_by')
      .notNull()
      .references(() => users.id),
    uploadedAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('client_binaries_app_platform_version_unique').on(t.appId, t.platform, t.versionKey),
    index('client_binaries_app_list_idx').on(t.appId, t.listKey, t.id),
    index('client_binaries_sha256_idx').on(t.sha256),
    check(
      'client_binaries_platform_check',
      oneOf(t.platform, clientPlatforms),
    ),
  ],
);

export const binaryUploads = pgTable(
  'binary_uploads',
  {
    id: id(),
    accountId: integer('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    appId: integer('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    platform: text('platform').notNull(),
    fileName: text('file_name').notNull(),
    sizeBytes: bigint('size_bytes', { mode: 'number' }).notNull(),
    tokenSha256: text('token_sha256').notNull().unique(),
    expiresAt: ms('expires_at').notNull(),
    receivedBytes: bigint('received_bytes', { mode: 'number' }).notNull().default(0),
    sha256: text('sha256').references(() => blobs.sha256),
    completedAt: ms('completed_at'),
    clientBinaryId: integer('client_binary_id').references(() => clientBinaries.id, { onDelete: 'set null' }),
    usedAt: ms('used_at'),
    createdBy: integer('created_by')
      .notNull()
      .references(() => users.id),
    createdAt: createdAt(),
  },
  (t) => [index('binary_uploads_sha256_idx').on(t.sha256)],
);

export const publishJobs = pgTable(
  'publish_jobs',
  {
    id: id(),
    accountId: integer('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    trackingNumber: integer('tracking_number').notNull(),
    appId: integer('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    environmentId: integer('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    kind: text('kind').notNull(),
    action: text('action').notNull(),
    sync: flag('sync').notNull(),
    state: text('state').notNull(),
    requestedBy: integer('requested_by')
      .notNull()
      .references(() => users.id),
    request: text('request').notNull(),
    warnings: text('warnings').notNull().default('[]'),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    errorStage: text('error_stage'),
    rollback: text('rollback'),
    revision: integer('revision').notNull().default(0),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    startedAt: ms('started_at'),
    finishedAt: ms('finished_at'),
    leaseOwner: text('lease_owner'),
    leaseExpiresAt: ms('lease_expires_at'),
    rollbackWait: text('rollback_wait'),
  },
  (t) => [
    uniqueIndex('publish_jobs_account_tracking_unique').on(t.accountId, t.trackingNumber),
    // R10: at most one active job per environment, held by the database itself.
    uniqueIndex('publish_jobs_one_active_per_environment')
      .on(t.environmentId)
      .where(sql`${t.state} in ('QUEUED', 'RUNNING', 'CANCELING')`),
    index('publish_jobs_account_created_idx').on(t.accountId, t.id),
    index('publish_jobs_app_env_kind_idx').on(t.appId, t.environmentId, t.kind, t.id),
    index('publish_jobs_state_idx').on(t.state),
    check('publish_jobs_state_check', oneOf(t.state, jobStates)),
  ],
);

export const publishStages = pgTable(
  'publish_stages',
  {
    jobId: integer('job_id')
      .notNull()
      .references(() => publishJobs.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    key: text('key').notNull(),
    title: text('title').notNull(),
    state: text('state').notNull(),
    startedAt: ms('started_at'),
    finishedAt: ms('finished_at'),
    message: text('message'),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.position] })],
);

export const environmentSigningKeys = pgTable('environment_signing_keys', {
  environmentId: integer('environment_id')
    .primaryKey()
    .references(() => environments.id, { onDelete: 'cascade' }),
  publicKeyPem: text('public_key_pem').notNull(),
  privateKeyPem: text('private_key_pem').notNull(),
  createdAt: createdAt(),
});

export const appClientCredentials = pgTable(
  'app_client_credentials',
  {
    appId: integer('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    environmentId: integer('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    appKey: text('app_key').notNull(),
    secretEncrypted: text('secret_encrypted').notNull(),
    rotatedAt: ms('rotated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.appId, t.environmentId] })],
);

export const storeInvitations = pgTable(
  'store_invitations',
  {
    id: id(),
    directoryUserId: integer('directory_user_id')
      .notNull()
      .references(() => directoryUsers.id, { onDelete: 'cascade' }),
    tokenSha256: text('token_sha256').notNull().unique(),
    tokenEncrypted: text('token_encrypted').notNull(),
    expiresAt: ms('expires_at').notNull(),
    revokedAt: ms('revoked_at'),
    createdAt: createdAt(),
  },
  (t) => [index('store_invitations_user_idx').on(t.directoryUserId)],
);

// The embedded runtime's tables (src/runtime/schema.ts), which live in this database too.

export const runtimeBlobs = pgTable('runtime_blobs', {
  sha256: text('sha256').primaryKey(),
  sizeBytes: bigint('size_bytes', { mode: 'number' }).notNull(),
  receivedAt: ms('received_at').notNull(),
});

export const managementApps = pgTable(
  'management_apps',
  {
    id: id(),
    environmentId: integer('environment_id').notNull(),
    appId: integer('app_id').notNull(),
    appName: text('app_name').notNull().default(''),
    preview: flag('preview').notNull(),
    workflowState: text('workflow_state').notNull(),
    signAction: text('sign_action').notNull(),
    description: text('description'),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [uniqueIndex('management_apps_env_app_preview_unique').on(t.environmentId, t.appId, t.preview)],
);

export const managementVersions = pgTable(
  'management_versions',
  {
    id: id(),
    managementAppId: integer('management_app_id')
      .notNull()
      .references(() => managementApps.id, { onDelete: 'cascade' }),
    platform: text('platform').notNull(),
    version: text('version').notNull(),
    versionKey: text('version_key').notNull(),
    binaryId: integer('binary_id'),
    bundleId: text('bundle_id'),
    artifactSha256: text('artifact_sha256').notNull(),
    signature: text('signature').notNull(),
    wrapped: flag('wrapped').notNull(),
    publishedAt: ms('published_at').notNull(),
    publishJobId: integer('publish_job_id'),
  },
  (t) => [
    uniqueIndex('management_versions_app_platform_version_unique').on(t.managementAppId, t.platform, t.versionKey),
    index('management_versions_binary_idx').on(t.binaryId),
    index('management_versions_artifact_idx').on(t.artifactSha256),
  ],
);

export const managementTargets = pgTable(
  'management_targets',
  {
    id: id(),
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

export const storeNotifications = pgTable(
  'store_notifications',
  {
    id: id(),
    environmentId: integer('environment_id').notNull().default(0),
    directoryUserId: integer('directory_user_id').notNull(),
    managementAppId: integer('management_app_id')
      .notNull()
      .references(() => managementApps.id, { onDelete: 'cascade' }),
    publishJobId: integer('publish_job_id'),
    message: text('message').notNull(),
    storePath: text('store_path'),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [
    index('store_notifications_user_idx').on(t.environmentId, t.directoryUserId, t.id),
    index('store_notifications_job_idx').on(t.publishJobId),
  ],
);

export const publishedIdentityServices = pgTable(
  'published_identity_services',
  {
    id: id(),
    environmentId: integer('environment_id').notNull(),
    name: text('name').notNull(),
    providerType: text('provider_type').notNull(),
    publishedByAppId: integer('published_by_app_id').notNull(),
    publishedAt: ms('published_at').notNull(),
    publishJobId: integer('publish_job_id'),
  },
  (t) => [uniqueIndex('published_identity_services_env_name_unique').on(t.environmentId, sql`lower(${t.name})`)],
);

export const publishedAppServices = pgTable(
  'published_app_services',
  {
    appId: integer('app_id').notNull(),
    environmentId: integer('environment_id').notNull(),
    appName: text('app_name').notNull().default(''),
    identityServices: text('identity_services').notNull(),
    integrationServices: text('integration_services').notNull().default('[]'),
    publishedAt: ms('published_at').notNull(),
    activatedAt: ms('activated_at'),
    publishJobId: integer('publish_job_id'),
  },
  (t) => [
    primaryKey({ columns: [t.appId, t.environmentId] }),
    index('published_app_services_env_idx').on(t.environmentId),
    index('published_app_services_name_idx').on(t.environmentId, sql`lower(${t.appName})`),
  ],
);

export const appCredentials = pgTable(
  'app_credentials',
  {
    appId: integer('app_id').notNull(),
    environmentId: integer('environment_id').notNull(),
    appKey: text('app_key').notNull(),
    secretSha256: text('secret_sha256').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.appId, t.environmentId] }), uniqueIndex('app_credentials_key_unique').on(t.environmentId, t.appKey)],
);

export const liveWebClients = pgTable(
  'live_web_clients',
  {
    appId: integer('app_id').notNull(),
    environmentId: integer('environment_id').notNull(),
    binaryId: integer('binary_id'),
    artifactSha256: text('artifact_sha256').notNull(),
    deployedAt: ms('deployed_at').notNull(),
    publishJobId: integer('publish_job_id'),
  },
  (t) => [primaryKey({ columns: [t.appId, t.environmentId] }), index('live_web_clients_artifact_idx').on(t.artifactSha256)],
);

export const runtimeRestorePoints = pgTable(
  'runtime_restore_points',
  {
    key: text('key').primaryKey(),
    environmentId: integer('environment_id').notNull(),
    image: text('image').notNull(),
    held: text('held').notNull().default('[]'),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [index('runtime_restore_points_env_idx').on(t.environmentId)],
);

export const runtimeCommands = pgTable('runtime_commands', {
  key: text('key').primaryKey(),
  environmentId: integer('environment_id').notNull(),
  type: text('type').notNull(),
  result: text('result').notNull(),
  appliedAt: ms('applied_at').notNull(),
});

export const storeAccess = pgTable(
  'store_access',
  {
    invitationId: integer('invitation_id').notNull(),
    environmentId: integer('environment_id').notNull(),
    directoryUserId: integer('directory_user_id').notNull(),
    tokenSha256: text('token_sha256').notNull(),
    groupIds: text('group_ids').notNull(),
    expiresAt: ms('expires_at').notNull(),
    revoked: flag('revoked').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.environmentId, t.invitationId] }), uniqueIndex('store_access_token_unique').on(t.tokenSha256)],
);

export const leases = pgTable('leases', {
  name: text('name').primaryKey(),
  owner: text('owner').notNull(),
  expiresAt: ms('expires_at').notNull(),
});
