/**
 * The product's enumerations, owned by the domain: the GraphQL schema builds its enums from these
 * lists and the database declarations (src/db/schema.ts, src/db/schema.pg.ts) build their columns
 * and checks from them, so a value is added in one place. This module imports nothing, so that
 * every layer may depend on it.
 */

/** What a user may do in their account (R5). */
export const roles = ['ADMIN', 'MEMBER', 'VIEWER'] as const;
export type Role = (typeof roles)[number];

/** Where a directory user or group comes from. */
export const directorySources = ['LOCAL', 'ACTIVE_DIRECTORY', 'SAP', 'CLOUD'] as const;
export type DirectorySource = (typeof directorySources)[number];

/** The platforms a client binary is built for (R14). */
export const clientPlatforms = ['IOS_PHONE', 'IOS_TABLET', 'ANDROID_PHONE', 'ANDROID_TABLET', 'WINDOWS', 'WEB'] as const;
export type ClientPlatform = (typeof clientPlatforms)[number];

/** What a publish job publishes. */
export const publishKinds = ['NATIVE_CLIENT', 'SERVICES_AND_WEB'] as const;
export type PublishKind = (typeof publishKinds)[number];

/** Whether a publish job puts something on an environment or takes it off. */
export const publishActions = ['PUBLISH', 'UNPUBLISH'] as const;
export type PublishAction = (typeof publishActions)[number];

/** A publish job's life. */
export const jobStates = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELING', 'CANCELED'] as const;
export type JobState = (typeof jobStates)[number];

/** Where a job's rollback that waits for its runtime stands (R50): waiting, or ended by an ADMIN. */
export const rollbackWaits = ['WAITING', 'ABANDONED'] as const;
export type RollbackWait = (typeof rollbackWaits)[number];

/** A publish stage's life. */
export const stageStates = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'SKIPPED', 'CANCELED'] as const;
export type StageState = (typeof stageStates)[number];
