import type { runtimePlatforms } from './schema.js';

/** What a runtime says about itself (R47). */
export interface RuntimeInfo {
  runtime: 'shipyard-runtime';
  apiVersion: 1;
  versions: { integration: string; sync: string; messaging: string };
  managementAvailable: boolean;
}

export type RuntimePlatform = (typeof runtimePlatforms)[number];
export type WorkflowState = 'DRAFT' | 'ACTIVE';
export type SignAction = 'SIGN_ONLY' | 'WRAP_AND_SIGN';

/** Times are milliseconds since the epoch, so that they travel as JSON unchanged. */
export interface ManagementVersion {
  id: number;
  platform: RuntimePlatform;
  version: string;
  versionKey: string;
  binaryId: number | null;
  bundleId: string | null;
  artifactSha256: string;
  signature: string;
  wrapped: boolean;
  publishedAt: number;
  publishJobId: number | null;
}

export interface ManagementTarget {
  userId: number | null;
  groupId: number | null;
}

/** One Management app with its versions (by platform, newest first) and targets. */
export interface ManagementApp {
  id: number;
  environmentId: number;
  appId: number;
  appName: string;
  preview: boolean;
  workflowState: WorkflowState;
  signAction: SignAction;
  description: string | null;
  updatedAt: number;
  versions: ManagementVersion[];
  targets: ManagementTarget[];
}

export interface StoreNotification {
  id: number;
  environmentId: number;
  directoryUserId: number;
  managementAppId: number;
  publishJobId: number | null;
  message: string;
  storePath: string | null;
  createdAt: number;
}

export interface PublishedIdentityService {
  environmentId: number;
  name: string;
  providerType: string;
  publishedByAppId: number;
  publishedAt: number;
  publishJobId: number | null;
}

export interface IntegrationService {
  name: string;
  baseUrl: string;
}

export interface PublishedAppServices {
  environmentId: number;
  appId: number;
  appName: string;
  identityServices: string[];
  integrationServices: IntegrationService[];
  publishedAt: number;
  activatedAt: number | null;
  publishJobId: number | null;
}

export interface LiveWebClient {
  environmentId: number;
  appId: number;
  binaryId: number | null;
  artifactSha256: string;
  deployedAt: number;
  publishJobId: number | null;
}

/** The services side of a runtime: identity services, app services and live web clients. */
export interface ServicesState {
  identityServices: PublishedIdentityService[];
  appServices: PublishedAppServices[];
  webClients: LiveWebClient[];
}

/** Everything a runtime holds for its environment, as its reads answer it. */
export interface RuntimeState {
  management: ManagementApp[];
  services: ServicesState;
}

/** An app as a runtime serves it to browsers and SDKs (R53, R54). */
export interface PublishedApp {
  appId: number;
  appName: string;
  webClientSha256: string | null;
  identityServices: { name: string; providerType: string }[];
  integrationServices: IntegrationService[];
  credentials: { appKey: string; secretSha256: string } | null;
}
