/** Codes of problems the caller can fix; they mirror the API contract's UserErrorCode. */
export const userErrorCodes = [
  'INVALID_INPUT',
  'NOT_FOUND',
  'FORBIDDEN',
  'NAME_TAKEN',
  'URL_TAKEN',
  'INVALID_VERSION',
  'DUPLICATE_VERSION',
  'LIMIT_EXCEEDED',
  'INVALID_BINARY',
  'PLATFORM_MISMATCH',
  'UPLOAD_INCOMPLETE',
  'UPLOAD_EXPIRED',
  'ENVIRONMENT_BUSY',
  'ENVIRONMENT_NOT_MANAGED',
  'VERSION_MISMATCH',
  'DOWNGRADE_NOT_ALLOWED',
  'TARGETS_REQUIRED',
  'TARGET_NOT_ALLOWED',
  'NOTHING_TO_PUBLISH',
  'JOB_NOT_CANCELABLE',
  'URL_NOT_ALLOWED',
  'RUNTIME_UNREACHABLE',
] as const;

export type UserErrorCode = (typeof userErrorCodes)[number];

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
