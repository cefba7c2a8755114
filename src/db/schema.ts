import { sql } from 'drizzle-orm';
import {
  check,
  index,
  integer,
  primaryKey,
  sqliteTable,
  text,
  uniqueIndex,
} from 'drizzle-orm/sqlite-core';
import { clientPlatforms, directorySources, jobStates, publishActions, publishKinds, roles, rollbackWaits, stageStates } from '../domain/vocabulary.js';
import { oneOf } from './one-of.js';

const createdAt = () =>
  integer('created_at', { mode: 'timestamp_ms' })
    .notNull()
    .$defaultFn(() => new Date());

/**
 * When the row last changed; null until its first change (rows older than the column keep null,
 * so it is nullable and readers fall back to the creation time). Drizzle stamps it on every update.
 */
const updatedAt = () => integer('updated_at', { mode: 'timestamp_ms' }).$onUpdate(() => new Date());

export const accounts = sqliteTable('accounts', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  name: text('name').notNull(),
  createdAt: createdAt(),
});

export const users = sqliteTable(
  'users',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    accountId: integer('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    email: text('email').notNull(),
    name: text('name').notNull(),
    role: text('role', { enum: roles }).notNull(),
    /** Set while the user is deactivated: their tokens authenticate nothing. */
    deactivatedAt: integer('deactivated_at', { mode: 'timestamp_ms' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    // Per account: whether an address is in use elsewhere is no business of another account (R6).
    uniqueIndex('users_account_email_unique').on(t.accountId, sql`lower(${t.email})`),
    index('users_account_idx').on(t.accountId),
    check('users_role_check', oneOf(t.role, roles)),
  ],
);

export const apiTokens = sqliteTable(
  'api_tokens',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    accountId: integer('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** Hex SHA-256 of the secret; the secret itself is never stored. */
    tokenSha256: text('token_sha256').notNull().unique(),
    createdAt: createdAt(),
    lastUsedAt: integer('last_used_at', { mode: 'timestamp_ms' }),
    /** After this the token is refused everywhere (R70); null for a token that does not expire. */
    expiresAt: integer('expires_at', { mode: 'timestamp_ms' }),
  },
  (t) => [index('api_tokens_user_idx').on(t.userId)],
);

export const apps = sqliteTable(
  'apps',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
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

export const appIdentityServices = sqliteTable(
  'app_identity_services',
  {
    appId: integer('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    providerType: text('provider_type').notNull(),
    /** Order in which the app lists them. */
    position: integer('position').notNull(),
  },
  (t) => [primaryKey({ columns: [t.appId, t.name] })],
);

/** R54: the integration services an app calls, published with its services. */
export const appIntegrationServices = sqliteTable(
  'app_integration_services',
  {
    appId: integer('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    baseUrl: text('base_url').notNull(),
    /** Order in which the app lists them. */
    position: integer('position').notNull(),
  },
  (t) => [primaryKey({ columns: [t.appId, t.name] })],
);

export const environments = sqliteTable(
  'environments',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    accountId: integer('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** Null for the embedded runtime. */
    url: text('url'),
    allowManualPublishOnly: integer('allow_manual_publish_only', { mode: 'boolean' })
      .notNull()
      .default(false),
    managementEnabled: integer('management_enabled', { mode: 'boolean' }).notNull().default(false),
    integrationVersion: text('integration_version').notNull(),
    syncVersion: text('sync_version').notNull(),
    messagingVersion: text('messaging_version').notNull(),
    /** Whether the runtime answered its last probe; null when never probed. */
    runtimeAnswered: integer('runtime_answered', { mode: 'boolean' }),
    /** Why the last probe did not count as an answer (wrong token, not a runtime, unreachable). */
    statusReason: text('status_reason'),
    /** The bearer token of the runtime at `url` (R46); never read back through the API. */
    runtimeToken: text('runtime_token'),
    statusCheckedAt: integer('status_checked_at', { mode: 'timestamp_ms' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('environments_account_name_unique').on(t.accountId, sql`lower(${t.name})`),
    // Per account, like names: a global rule would tell one account another's runtime URLs (R6).
    uniqueIndex('environments_account_url_unique').on(t.accountId, t.url),
  ],
);

export const directoryUsers = sqliteTable(
  'directory_users',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    accountId: integer('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    environmentId: integer('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    username: text('username').notNull(),
    displayName: text('display_name').notNull(),
    email: text('email'),
    source: text('source', { enum: directorySources }).notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('directory_users_env_username_unique').on(t.environmentId, sql`lower(${t.username})`),
    index('directory_users_env_display_idx').on(t.environmentId, sql`lower(${t.displayName})`, t.id),
    check('directory_users_source_check', oneOf(t.source, directorySources)),
  ],
);

export const directoryGroups = sqliteTable(
  'directory_groups',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    accountId: integer('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    environmentId: integer('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    source: text('source', { enum: directorySources }).notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('directory_groups_env_name_unique').on(t.environmentId, sql`lower(${t.name})`),
    check('directory_groups_source_check', oneOf(t.source, directorySources)),
  ],
);

export const directoryGroupMembers = sqliteTable(
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

/** Content-addressed files under DATA_DIR/blobs, one row per distinct SHA-256. */
export const blobs = sqliteTable('blobs', {
  sha256: text('sha256').primaryKey(),
  sizeBytes: integer('size_bytes').notNull(),
  createdAt: createdAt(),
});

export const clientBinaries = sqliteTable(
  'client_binaries',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    accountId: integer('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    appId: integer('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    platform: text('platform', { enum: clientPlatforms }).notNull(),
    version: text('version').notNull(),
    /** The version padded to three 9-digit parts, so that 1 = 1.0 = 1.0.0 and 1.10 > 1.9. */
    versionKey: text('version_key').notNull(),
    /** Platform, then the version key with each digit complemented: ascending = newest first per platform. */
    listKey: text('list_key').notNull(),
    description: text('description'),
    fileName: text('file_name').notNull(),
    sizeBytes: integer('size_bytes').notNull(),
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

/** A staged, streamed upload: created by createBinaryUpload, filled by one PUT, used by addClientBinary. */
export const binaryUploads = sqliteTable(
  'binary_uploads',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    accountId: integer('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    appId: integer('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    platform: text('platform', { enum: clientPlatforms }).notNull(),
    fileName: text('file_name').notNull(),
    sizeBytes: integer('size_bytes').notNull(),
    /** Hex SHA-256 of the secret in the upload URL. */
    tokenSha256: text('token_sha256').notNull().unique(),
    expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
    receivedBytes: integer('received_bytes').notNull().default(0),
    /** Set when the PUT completed: the blob it stored. */
    sha256: text('sha256').references(() => blobs.sha256),
    completedAt: integer('completed_at', { mode: 'timestamp_ms' }),
    /** Set when addClientBinary turned it into a binary; an upload is used once. */
    clientBinaryId: integer('client_binary_id').references(() => clientBinaries.id, { onDelete: 'set null' }),
    usedAt: integer('used_at', { mode: 'timestamp_ms' }),
    createdBy: integer('created_by')
      .notNull()
      .references(() => users.id),
    createdAt: createdAt(),
  },
  (t) => [index('binary_uploads_sha256_idx').on(t.sha256)],
);

export const publishJobs = sqliteTable(
  'publish_jobs',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    accountId: integer('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    /** The number in the trackingId (PUB-000042), counted per account. */
    trackingNumber: integer('tracking_number').notNull(),
    appId: integer('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    environmentId: integer('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: publishKinds }).notNull(),
    action: text('action', { enum: publishActions }).notNull(),
    sync: integer('sync', { mode: 'boolean' }).notNull(),
    state: text('state', { enum: jobStates }).notNull(),
    requestedBy: integer('requested_by')
      .notNull()
      .references(() => users.id),
    /** What was asked, as JSON: the options each kind of job needs to run. */
    request: text('request').notNull(),
    warnings: text('warnings').notNull().default('[]'),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    errorStage: text('error_stage'),
    /** The runtime state the job may change, as JSON, taken before its first change (R23, R25). */
    rollback: text('rollback'),
    /** Counts every change of the job or its stages, so that subscribers see each once, in order (R41). */
    revision: integer('revision').notNull().default(0),
    createdAt: createdAt(),
    /** Stamped by every change of the job or its stages (each bumps the revision). */
    updatedAt: updatedAt(),
    startedAt: integer('started_at', { mode: 'timestamp_ms' }),
    finishedAt: integer('finished_at', { mode: 'timestamp_ms' }),
    /** R59: the instance running or rolling back the job (its id from DATA_DIR/instance-id); null when none. */
    leaseOwner: text('lease_owner'),
    /** Until when `leaseOwner` holds the job unless it renews; after that, any instance may recover it. */
    leaseExpiresAt: integer('lease_expires_at', { mode: 'timestamp_ms' }),
    /**
     * R50 across instances: WAITING while the rollback waits for an unreachable runtime, ABANDONED
     * once an ADMIN asked (on any instance) to end the job without it; the holder acts on it.
     */
    rollbackWait: text('rollback_wait', { enum: rollbackWaits }),
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

export const publishStages = sqliteTable(
  'publish_stages',
  {
    jobId: integer('job_id')
      .notNull()
      .references(() => publishJobs.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    key: text('key').notNull(),
    title: text('title').notNull(),
    state: text('state', { enum: stageStates }).notNull(),
    startedAt: integer('started_at', { mode: 'timestamp_ms' }),
    finishedAt: integer('finished_at', { mode: 'timestamp_ms' }),
    message: text('message'),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.position] })],
);

/** Each environment's Ed25519 key pair, which signs every delivered artifact (R29). */
export const environmentSigningKeys = sqliteTable('environment_signing_keys', {
  environmentId: integer('environment_id')
    .primaryKey()
    .references(() => environments.id, { onDelete: 'cascade' }),
  publicKeyPem: text('public_key_pem').notNull(),
  privateKeyPem: text('private_key_pem').notNull(),
  createdAt: createdAt(),
});

/**
 * R54: an app's key and secret in an environment, made by its first services publish. The
 * console shows the secret to MEMBER and ADMIN, so it is kept encrypted (AES-256-GCM under the
 * data directory's secret key); the runtime keeps only its SHA-256.
 */
export const appClientCredentials = sqliteTable(
  'app_client_credentials',
  {
    appId: integer('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    environmentId: integer('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    appKey: text('app_key').notNull(),
    /** base64 of iv, ciphertext and tag. */
    secretEncrypted: text('secret_encrypted').notNull(),
    rotatedAt: integer('rotated_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.appId, t.environmentId] })],
);

/**
 * R55: a directory user's personal Enterprise Store link. Only the token's SHA-256 is kept; the
 * token is shown once, when the invitation is made.
 */
export const storeInvitations = sqliteTable(
  'store_invitations',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    directoryUserId: integer('directory_user_id')
      .notNull()
      .references(() => directoryUsers.id, { onDelete: 'cascade' }),
    tokenSha256: text('token_sha256').notNull().unique(),
    /** The token itself, encrypted, so that notifications can carry the link (R34). */
    tokenEncrypted: text('token_encrypted').notNull(),
    expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
    revokedAt: integer('revoked_at', { mode: 'timestamp_ms' }),
    createdAt: createdAt(),
  },
  (t) => [index('store_invitations_user_idx').on(t.directoryUserId)],
);

/**
 * The embedded runtime's tables live in this database file too; they are defined with the
 * runtime (src/runtime/schema.ts), which a runtime server also uses for its own file.
 */
export * from '../runtime/schema.js';

/** R59: work that runs on one instance at a time (background maintenance), held by `owner` until `expiresAt`. */
export const leases = sqliteTable('leases', {
  name: text('name').primaryKey(),
  owner: text('owner').notNull(),
  expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
});
