import type { ClientPlatform, PublishKind } from '../vocabulary.js';
import type { SignAction, WorkflowState } from '../management.js';
import type { Principal } from '../principal.js';
import type { PublishJob } from './jobs.js';

/**
 * What a publish job stores beside its state (`publish_jobs.request`, `.warnings`), and the typed
 * readers the rest of the code reads it with: nobody else parses these columns.
 */

export type PublishOption = 'PREVIEW' | 'APP_STORE';

/** What a native publish job (NATIVE_CLIENT, PUBLISH) runs with. */
export interface NativeRequest {
  option: PublishOption;
  signAction: SignAction;
  workflowState: WorkflowState;
  binaryIds: number[];
  removePlatforms: ClientPlatform[];
  /** Null keeps the Management app's targets (R32). */
  targets: { userIds: number[]; groupIds: number[] } | null;
}

/** What a job taking one version out of a Management app (NATIVE_CLIENT, UNPUBLISH; R31) runs with. */
export interface RemoveVersionRequest {
  managementAppId: number;
  preview: boolean;
  platform: ClientPlatform;
  version: string;
}

/** What a services and web publish job (SERVICES_AND_WEB, PUBLISH) runs with. */
export interface ServicesRequest {
  webClientBinaryId: number | null;
}

/** What a job unpublishing a whole app (either kind, UNPUBLISH; R39) runs with. */
export interface UnpublishRequest {
  kind: PublishKind;
}

type StoredJob = Pick<PublishJob, 'kind' | 'action' | 'request'>;

/** The request of a native publish; null for every other job. */
export const nativeRequestOf = (job: StoredJob): NativeRequest | null =>
  job.kind === 'NATIVE_CLIENT' && job.action === 'PUBLISH' ? (JSON.parse(job.request) as NativeRequest) : null;

/** The request of a job taking one Management version out; null for every other job, whole-app unpublishing included. */
export const versionRemovalOf = (job: StoredJob): RemoveVersionRequest | null => {
  if (job.kind !== 'NATIVE_CLIENT' || job.action !== 'UNPUBLISH') return null;
  const request = JSON.parse(job.request) as RemoveVersionRequest | UnpublishRequest;
  return 'managementAppId' in request ? request : null;
};

export const isVersionRemoval = (job: StoredJob): boolean => versionRemovalOf(job) !== null;

/** The request of a services and web publish; null for every other job. */
export const servicesRequestOf = (job: StoredJob): ServicesRequest | null =>
  job.kind === 'SERVICES_AND_WEB' && job.action === 'PUBLISH' ? (JSON.parse(job.request) as ServicesRequest) : null;

/** Things the caller should know that did not stop the job, each starting with a code. */
export const warningsOf = (job: Pick<PublishJob, 'warnings'>): string[] => JSON.parse(job.warnings) as string[];

/** Jobs act as the user who asked, inside the job's account. */
export const principalOf = (job: PublishJob): Principal => ({ accountId: job.accountId, userId: job.requestedBy, role: 'ADMIN', tokenId: 0 });

/**
 * For a plan, which the runner only gives jobs of its kind and action: the request its reader
 * found, or a fault naming the job.
 */
export function requestFor<T>(request: T | null, job: Pick<PublishJob, 'id' | 'kind' | 'action'>): T {
  if (request === null) throw new Error(`Publish job ${job.id} (${job.kind} ${job.action}) does not store this plan's request`);
  return request;
}
