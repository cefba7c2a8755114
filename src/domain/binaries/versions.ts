import { isVersion } from '../validation.js';

const PARTS = 3;
const DIGITS = 9;

/** 1, 1.0 and 1.0.0 are one version: each part padded to 9 digits, three parts. */
export function versionKey(version: string): string {
  const parts = version.split('.');
  while (parts.length < PARTS) parts.push('0');
  return parts.map((part) => part.padStart(DIGITS, '0')).join('.');
}

/** Sorts ascending as platform, then newest version first. */
export function listKey(platform: string, version: string): string {
  const complemented = versionKey(version).replace(/\d/g, (digit) => String(9 - Number(digit)));
  return `${platform}:${complemented}`;
}

/**
 * The version a binary states, in R16 form where it can be: AppX versions have four parts, and a
 * trailing .0 beyond the third carries nothing (1.2.3.0 is 1.2.3). Null when the binary says
 * nothing usable.
 */
export function statedVersion(raw: string | null): string | null {
  if (raw === null) return null;
  const parts = raw.trim().split('.');
  while (parts.length > PARTS && parts.at(-1) === '0') parts.pop();
  const version = parts.join('.');
  return isVersion(version) ? version : null;
}
