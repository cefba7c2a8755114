/**
 * Codes of problems the caller can fix, each with when it occurs; they mirror the API contract's
 * UserErrorCode and are the descriptions of its values.
 */
export const userErrorCodes = {
  INVALID_INPUT: 'A value breaks a rule of its field (length, characters, format, range), or the request contradicts itself or the current state; the message says which.',
  NOT_FOUND: 'An id names nothing: it is malformed, of the wrong type, deleted, or of another account (which reads exactly like an id that does not exist).',
  FORBIDDEN: "The caller's role does not allow this mutation (or this use of it: App Store publishing, other users' jobs or tokens, production versions).",
  NAME_TAKEN: 'The name (app, environment, directory user or group, or user email) is already used in this account where it must be unique.',
  URL_TAKEN: 'Another environment of this account already uses this runtime URL.',
  URL_NOT_ALLOWED: "The environment's URL is outside the hosts RUNTIME_URL_ALLOW lets environments point at.",
  INVALID_VERSION: 'A version is not 1 to 3 dot-separated numbers, or differs from the version the binary itself states.',
  DUPLICATE_VERSION: 'The app already has a binary of this platform with this version (1, 1.0 and 1.0.0 are the same version).',
  LIMIT_EXCEEDED: 'A size or count is over its limit: file size, ids per request, identity services per app.',
  INVALID_BINARY: 'The file is not a readable binary of the platform, or its name has the wrong extension.',
  PLATFORM_MISMATCH: 'The file is a binary of another platform than the one named (an Android package sent as IOS_PHONE).',
  UPLOAD_INCOMPLETE: 'addClientBinary named an upload whose bytes have not all arrived yet.',
  UPLOAD_EXPIRED: 'addClientBinary named an upload whose URL expired before the file arrived.',
  ENVIRONMENT_BUSY: 'Another publish job is active in the environment; try again when it ends.',
  ENVIRONMENT_NOT_MANAGED: 'Native publishing to an environment without a Volt MX Management runtime.',
  VERSION_MISMATCH: "The environment's runtime component versions differ from the console version, so it cannot be published to.",
  DOWNGRADE_NOT_ALLOWED: 'A native publish names a version not higher than the one the Management app already holds for that platform.',
  TARGETS_REQUIRED: 'A native publish as ACTIVE with no directory user or group to target, or deleting the only target of an ACTIVE app.',
  TARGET_NOT_ALLOWED: 'A target that can never receive apps: a CLOUD directory user or group.',
  NOTHING_TO_PUBLISH: 'A native publish names neither binaries to publish nor platforms to remove.',
  JOB_NOT_CANCELABLE: 'The job has already finished (or is finishing), so it cannot be canceled.',
  RUNTIME_UNREACHABLE: "The environment's runtime did not answer, so the change (a new app secret, a store invitation) could not be made there; nothing changed.",
  LAST_ADMIN: 'updateUser would leave the account without an active ADMIN (demoting or deactivating the last one).',
  APP_PUBLISHED: 'deleteApp on an app still published somewhere (native, services and web, or identity services other apps there use) or with a publish under way; the message names the environments.',
} as const;

export type UserErrorCode = keyof typeof userErrorCodes;

export interface UserError {
  code: UserErrorCode;
  message: string;
  /** Path to the input field at fault, e.g. ['input', 'version']. */
  field?: string[];
}

export type Result<T> = { ok: true; value: T } | { ok: false; userErrors: UserError[] };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });

export const fail = (...userErrors: UserError[]): { ok: false; userErrors: UserError[] } => ({
  ok: false,
  userErrors,
});

export const userError = (code: UserErrorCode, message: string, field?: string[]): UserError =>
  field ? { code, message, field } : { code, message };

export const notFound = (what: string, field: string[]): UserError =>
  userError('NOT_FOUND', `No ${what} with that id`, field);

/**
 * A query argument the caller got wrong (a bad cursor, a page too large). Unlike unexpected
 * errors, its message is shown to the client.
 */
export class InputError extends Error {
  override name = 'InputError';
}
