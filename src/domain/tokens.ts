import { createHash, randomBytes } from 'node:crypto';

/** API token secrets: 32 random bytes, prefixed so they are recognisable in a leak scan. */
export const newTokenSecret = (): string => `shp_${randomBytes(32).toString('base64url')}`;

export const sha256Hex = (value: string): string => createHash('sha256').update(value).digest('hex');
