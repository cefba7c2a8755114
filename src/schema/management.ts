import { parseRefKey, refKey, type ManagementApp, type ManagementVersion, type StoreNotification } from '../domain/management.js';
import { managementAppName } from '../domain/management.js';
import { AppRef } from './app.js';
import { can } from '../domain/policy.js';
import { builder } from './builder.js';
import { ClientBinaryRef, ClientPlatformEnum } from './client-binary.js';
import { DirectoryGroupRef, DirectoryPrincipalUnion, DirectoryUserRef } from './directory.js';
import { EnvironmentRef } from './environment.js';
import { isPresent, localId } from './ids.js';
import { PublishJobRef, SignActionEnum, WorkflowStateEnum } from './publish-job.js';

const ManagementAppVersionRef = builder.objectRef<ManagementVersion>('ManagementAppVersion').implement({
  description: 'A version a Management app holds and serves.',
  fields: (t) => ({
    platform: t.expose('platform', { type: ClientPlatformEnum, description: 'What it runs on.' }),
    version: t.exposeString('version', { description: 'Its version.' }),
    binary: t.field({ type: ClientBinaryRef, nullable: true, description: 'The uploaded binary it came from; null once that binary is deleted.', resolve: (version) => version.binaryId }),
    artifactSha256: t.exposeString('artifactSha256', {
      description: 'SHA-256 digest of the artifact as delivered (after wrapping, where wrapped).',
    }),
    signature: t.exposeString('signature', { description: "Base64 signature of artifactSha256 by the environment's signing key." }),
    wrapped: t.exposeBoolean('wrapped', { description: 'Whether it was wrapped before signing (WRAP_AND_SIGN).' }),
    publishedAt: t.field({ type: 'DateTime', description: 'When it was published.', resolve: (version) => new Date(version.publishedAt) }),
    publishJob: t.field({ type: PublishJobRef, nullable: true, description: 'The job that published it; null if that job is gone.', resolve: (version) => version.publishJobId }),
  }),
});

/** Unknown or malformed ids become a key no runtime object has. */
const refOrNone = (id: string) => parseRefKey(id) ?? { environmentId: 0, id: 0 };

export const ManagementAppRef = builder.loadableNode('ManagementApp', {
  description: "An app registered in an environment's Volt MX Management runtime: production, or its preview.",
  id: { resolve: (managementApp: ManagementApp) => refKey(managementApp), parse: (id) => id },
  load: async (ids: string[], context) => (await context.domain.management.byRefs(context.principal, ids.map(refOrNone))).filter(isPresent),
  sort: (managementApp) => refKey(managementApp),
  fields: (t) => ({
    environment: t.field({ type: EnvironmentRef, description: 'The environment whose Management runtime holds it.', resolve: (managementApp) => managementApp.environmentId }),
    app: t.field({ type: AppRef, description: 'The app it publishes.', resolve: (managementApp) => managementApp.appId }),
    name: t.string({
      description: "The app's name, with the suffix _preview for a preview.",
      resolve: async (managementApp, _args, context) => {
        const app = await AppRef.getDataloader(context).load(managementApp.appId);
        return managementAppName(app.name, managementApp.preview);
      },
    }),
    preview: t.exposeBoolean('preview', { description: 'Whether it is the preview (<AppName>_preview) rather than the production app.' }),
    workflowState: t.expose('workflowState', { type: WorkflowStateEnum, description: 'DRAFT or ACTIVE (in the Enterprise Store).' }),
    signAction: t.expose('signAction', { type: SignActionEnum, description: 'How its latest versions were prepared.' }),
    description: t.exposeString('description', { nullable: true, description: "The app's description as of the last publish." }),
    versions: t.field({
      type: [ManagementAppVersionRef],
      description: 'By platform, newest version first.',
      args: { platform: t.arg({ type: ClientPlatformEnum, description: 'Only versions of this platform.' }) },
      resolve: (managementApp, { platform }) => managementApp.versions.filter((version) => !platform || version.platform === platform),
    }),
    targets: t.field({
      type: [DirectoryPrincipalUnion],
      description: 'The directory users and groups it is published to.',
      resolve: async (managementApp, _args, context) => {
        const users = DirectoryUserRef.getDataloader(context);
        const groups = DirectoryGroupRef.getDataloader(context);
        const loaded = await Promise.all(
          managementApp.targets.map((target) => (target.userId !== null ? users.load(target.userId) : groups.load(target.groupId ?? 0))),
        );
        return loaded.filter(isPresent);
      },
    }),
    updatedAt: t.field({ type: 'DateTime', description: 'When a publish last changed it.', resolve: (managementApp) => new Date(managementApp.updatedAt) }),
    viewerCanRemoveVersions: t.boolean({
      description: "Whether the caller's role allows removeManagementVersion on it: a preview's as MEMBER, production's as ADMIN.",
      resolve: (managementApp, _args, { principal }) => can(principal, 'removeManagementVersion', managementApp),
    }),
  }),
});

export const StoreNotificationRef = builder.loadableNode('StoreNotification', {
  description: 'A message to a directory user about a native app published to them.',
  id: { resolve: (notification: StoreNotification) => refKey(notification), parse: (id) => id },
  load: async (ids: string[], context) =>
    (
      await context.domain.management.notificationsByRefs(context.principal, ids.map(refOrNone), (environmentId) =>
        context.domain.directory.userIdsOf(environmentId),
      )
    ).filter(isPresent),
  sort: (notification) => refKey(notification),
  fields: (t) => ({
    managementApp: t.field({
      type: ManagementAppRef,
      description: 'The app it is about.',
      resolve: (notification) => refKey({ environmentId: notification.environmentId, id: notification.managementAppId }),
    }),
    message: t.exposeString('message', { description: 'The message, as the user reads it.' }),
    createdAt: t.field({ type: 'DateTime', description: 'When it was sent.', resolve: (notification) => new Date(notification.createdAt) }),
  }),
});

builder.objectField(DirectoryUserRef, 'notifications', (t) =>
  t.field({
    type: [StoreNotificationRef],
    description: 'Messages about native apps published to this user (directly or through a group), newest first.',
    resolve: async (user, _args, { domain, principal }) => (await domain.management.notificationsOf(principal, [user]))[0] ?? [],
  }),
);

builder.objectFields(EnvironmentRef, (t) => ({
  managementApps: t.loadableList({
    type: ManagementAppRef,
    description: "Apps registered in this environment's Management runtime.",
    load: async (environmentIds: number[], { domain, principal }) => domain.management.appsOfEnvironments(principal, environmentIds),
    resolve: (environment) => environment.id,
  }),
  enterpriseStore: t.field({
    type: [ManagementAppRef],
    description: 'What a directory user sees in the Enterprise Store: ACTIVE apps targeted at them directly or through a group.',
    args: { userId: t.arg.id({ required: true, description: 'A DirectoryUser of this environment.' }) },
    resolve: async (environment, { userId }, context) => {
      const id = localId(String(userId), 'DirectoryUser');
      const user = id === null ? null : await DirectoryUserRef.getDataloader(context).load(id);
      if (!user || user.environmentId !== environment.id) return [];
      return context.domain.management.enterpriseStore(context.principal, environment.id, user.id);
    },
  }),
  signingPublicKey: t.string({
    description: "PEM (SPKI) Ed25519 public key that verifies every signature of this environment's Management artifacts.",
    resolve: async (environment, _args, { domain }) => domain.signing.publicKey(environment.id),
  }),
}));
