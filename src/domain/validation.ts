import { userError, type UserError } from './result.js';

export const MAX_NAME_LENGTH = 200;
export const MAX_DESCRIPTION_LENGTH = 4000;

// Control characters (C0, DEL, C1) never belong in a name; descriptions may hold line breaks.
// eslint-disable-next-line no-control-regex
const controlCharacters = /[\u0000-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex
const controlCharactersButNewlines = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/** A required single-line name: trimmed, 1 to 200 characters, no control characters. */
export function checkName(value: string, field: string[], what = 'Name'): UserError | null {
  if (value.trim().length === 0) return userError('INVALID_INPUT', `${what} must not be empty`, field);
  if (value.length > MAX_NAME_LENGTH)
    return userError('INVALID_INPUT', `${what} must be at most ${MAX_NAME_LENGTH} characters`, field);
  if (controlCharacters.test(value))
    return userError('INVALID_INPUT', `${what} must not contain control characters`, field);
  if (value !== value.trim())
    return userError('INVALID_INPUT', `${what} must not start or end with white space`, field);
  return null;
}

export function checkDescription(value: string | null | undefined, field: string[]): UserError | null {
  if (value == null) return null;
  if (value.length > MAX_DESCRIPTION_LENGTH)
    return userError('INVALID_INPUT', `Description must be at most ${MAX_DESCRIPTION_LENGTH} characters`, field);
  if (controlCharactersButNewlines.test(value))
    return userError('INVALID_INPUT', 'Description must not contain control characters', field);
  return null;
}

const emailPattern = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function checkEmail(value: string, field: string[]): UserError | null {
  if (value.length > MAX_NAME_LENGTH || !emailPattern.test(value) || controlCharacters.test(value))
    return userError('INVALID_INPUT', 'Email must be an address such as name@example.com', field);
  return null;
}

/** 1 to 3 dot-separated non-negative integers without leading zeros (R16). */
const versionPattern = /^(0|[1-9]\d{0,8})(\.(0|[1-9]\d{0,8})){0,2}$/;

export const isVersion = (value: string): boolean => versionPattern.test(value);

/** Numeric comparison: 1.10 > 1.9, and 1.0 = 1. */
export function compareVersions(a: string, b: string): number {
  const left = a.split('.').map(Number);
  const right = b.split('.').map(Number);
  for (let i = 0; i < Math.max(left.length, right.length); i += 1) {
    const difference = (left[i] ?? 0) - (right[i] ?? 0);
    if (difference !== 0) return Math.sign(difference);
  }
  return 0;
}

/** Only ASCII letters fold, as SQLite's lower() does, so cursors and SQL agree. */
export const asciiLower = (value: string): string => value.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** Escapes % and _ for a LIKE pattern used with ESCAPE '\'. */
export const likeEscape = (value: string): string => value.replace(/[\\%_]/g, (c) => `\\${c}`);

/** 1536 → "1.5 KiB", for messages people read. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}
