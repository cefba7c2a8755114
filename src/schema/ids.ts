import { decodeGlobalID } from '@pothos/plugin-relay';
import { parseRefKey, type RuntimeObjectRef } from '../domain/management.js';

/**
 * The row id inside a global id of the given type, or null for anything else: malformed ids,
 * ids of another type, and ids out of range all read as "no such object" (R6, R43).
 */
export function localId(globalId: string, typename: string): number | null {
  try {
    const decoded = decodeGlobalID(globalId);
    if (decoded.typename !== typename) return null;
    return parseRowId(decoded.id) || null;
  } catch {
    return null;
  }
}

export const localIds = (globalIds: readonly string[] | null | undefined, typename: string): (number | null)[] | null =>
  globalIds == null ? null : globalIds.map((id) => localId(id, typename));

/** Parses the local part of a node id; anything that is not a row id becomes 0, which no row has. */
export const parseRowId = (id: string): number => (/^[1-9]\d{0,15}$/.test(id) && Number.isSafeInteger(Number(id)) ? Number(id) : 0);

export const isPresent = <T>(value: T | null | undefined): value is T => value != null;

/** A Management app's or notification's global id holds its environment and the runtime's id. */
export function runtimeObjectRef(globalId: string, typename: 'ManagementApp' | 'StoreNotification'): RuntimeObjectRef | null {
  try {
    const decoded = decodeGlobalID(globalId);
    return decoded.typename === typename ? parseRefKey(decoded.id) : null;
  } catch {
    return null;
  }
}

export const managementAppRef = (globalId: string): RuntimeObjectRef | null => runtimeObjectRef(globalId, 'ManagementApp');
