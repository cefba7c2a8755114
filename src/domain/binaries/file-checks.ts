import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { apps } from '../../db/schema.js';
import type { Principal } from '../principal.js';
import { userError, type UserError } from '../result.js';
import { MAX_NAME_LENGTH } from '../validation.js';
import type { ArchiveKind } from './archive.js';
import { describeKind, platformRules, type ClientPlatform } from './platforms.js';

// What is checked of a new binary's file before its content is read: shared by the catalogue
// (multipart files, R19) and streamed uploads (R18).

// eslint-disable-next-line no-control-regex
const unsafeFileName = /[\u0000-\u001f\u007f/\\]|^\.\.?$/;

export function checkFileName(name: string, field: string[]): UserError | null {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH)
    return userError('INVALID_INPUT', `File name must be 1 to ${MAX_NAME_LENGTH} characters`, field);
  if (unsafeFileName.test(name)) return userError('INVALID_INPUT', 'File name must be a plain name, without a path or control characters', field);
  return null;
}

/** The kind of app a file name says it holds, by its extension; null when no platform takes it. */
export function kindByName(fileName: string): ArchiveKind | null {
  const name = fileName.toLowerCase();
  const rule = Object.values(platformRules).find(({ extensions }) => extensions.some((extension) => name.endsWith(extension)));
  return rule?.kind ?? null;
}

/** "An IOS_PHONE binary is a .ipa file": what a platform's file is called. */
export function wrongName(platform: ClientPlatform, field: string[]): UserError {
  const { extensions } = platformRules[platform];
  const names = extensions.length > 1 ? `${extensions.slice(0, -1).join(', ')} or ${extensions.at(-1)}` : extensions.join('');
  return userError('INVALID_BINARY', `${/^[AEIOU]/.test(platform) ? 'An' : 'A'} ${platform} binary is a ${names} file`, field);
}

export const mismatch = (platform: ClientPlatform, kind: ArchiveKind, field: string[], what = 'The file is') =>
  userError('PLATFORM_MISMATCH', `${what} ${describeKind(kind)}, not ${describeKind(platformRules[platform].kind)} for ${platform}`, field);

/**
 * R14 by file name: a name no platform takes is INVALID_BINARY; a name of another platform's
 * kind is PLATFORM_MISMATCH when nothing more is known (`byContent` false). When the content will
 * be read, a name of another kind is left for `register` to settle with the content.
 */
export function checkExtension(platform: ClientPlatform, fileName: string, field: string[], byContent: boolean): UserError | null {
  const kind = kindByName(fileName);
  if (kind === null) return wrongName(platform, field);
  if (kind === platformRules[platform].kind || byContent) return null;
  return mismatch(platform, kind, field, 'The file name says it is');
}

/** The caller's account's app, or undefined. */
export async function accountApp(db: Db, principal: Principal, appId: number | null): Promise<{ id: number } | undefined> {
  if (appId === null) return undefined;
  return (await db
    .select({ id: apps.id })
    .from(apps)
    .where(and(eq(apps.accountId, principal.accountId), eq(apps.id, appId)))
    .limit(1))[0];
}
