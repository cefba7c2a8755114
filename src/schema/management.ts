import type { ManagementApp, ManagementVersion, StoreNotification } from '../domain/management.js';
import { managementAppName } from '../domain/publish/native.js';
import { AppRef } from './app.js';
import { builder } from './builder.js';
import { ClientBinaryRef, ClientPlatformEnum } from './client-binary.js';
import { DirectoryGroupRef, DirectoryPrincipalUnion, DirectoryUserRef } from './directory.js';
import { EnvironmentRef } from './environment.js';
import { isPresent, localId, parseRowId } from './ids.js';
import { PublishJobRef, SignActionEnum, WorkflowStateEnum } from './publish-job.js';

const ManagementAppVersionRef = builder.objectRef<ManagementVersion>('ManagementAppVersion').implement({
  fields: (t) => ({
    platform: t.expose('platform', { type: ClientPlatformEnum }),
    version: t.exposeString('version'),
    binary: t.field({ type: ClientBinaryRef, nullable: true, resolve: (version) => version.binaryId }),
    artifactSha256: t.exposeString('artifactSha256', {
      description: 'SHA-256 digest of the artifact as delivered (after wrapping, where wrapped).',
    }),
    signature: t.exposeString('signature', { description: "Base64 signature of artifactSha256 by the environment's signing key." }),
    wrapped: t.exposeBoolean('wrapped'),
    publishedAt: t.expose('publishedAt', { type: 'DateTime' }),
    publishJob: t.field({ type: PublishJobRef, nullable: true, resolve: (version) => version.publishJobId }),
  }),
});

export const ManagementAppRef = builder.loadableNode('ManagementApp', {
  id: { resolve: (managementApp: ManagementApp) => managementApp.id, parse: parseRowId },
  load: async (ids: number[], context) => context.domain.management.byIds(context.principal, ids).filter(isPresent),
  sort: (managementApp) => managementApp.id,
  fields: (t) => ({
    environment: t.field({ type: EnvironmentRef, resolve: (managementApp) => managementApp.environmentId }),
    app: t.field({ type: AppRef, resolve: (managementApp) => managementApp.appId }),
    name: t.string({
      description: "The app's name, with the suffix _preview for a preview.",
      resolve: async (managementApp, _args, context) => {
        const app = await AppRef.getDataloader(context).load(managementApp.appId);
        return managementAppName(app.name, managementApp.preview);
      },
    }),
    preview: t.exposeBoolean('preview'),
    workflowState: t.expose('workflowState', { type: WorkflowStateEnum }),
    signAction: t.expose('signAction', { type: SignActionEnum }),
    description: t.exposeString('description', { nullable: true }),
    versions: t.field({
      type: [ManagementAppVersionRef],
      description: 'By platform, newest version first.',
      args: { platform: t.arg({ type: ClientPlatformEnum }) },
      resolve: async (managementApp, { platform }, { loaders }) =>
        (await loaders.managementVersions.load(managementApp.id)).filter((version) => !platform || version.platform === platform),
    }),
    targets: t.field({
      type: [DirectoryPrincipalUnion],
      resolve: async (managementApp, _args, context) => {
        const targets = await context.loaders.managementTargets.load(managementApp.id);
        const users = DirectoryUserRef.getDataloader(context);
        const groups = DirectoryGroupRef.getDataloader(context);
        const loaded = await Promise.all(
          targets.map((target) => (target.userId !== null ? users.load(target.userId) : groups.load(target.groupId ?? 0))),
        );
        return loaded.filter(isPresent);
      },
    }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const StoreNotificationRef = builder.loadableNode('StoreNotification', {
  id: { resolve: (notification: StoreNotification) => notification.id, parse: parseRowId },
  load: async (ids: number[], context) => context.domain.management.notificationsByIds(context.principal, ids).filter(isPresent),
  sort: (notification) => notification.id,
  fields: (t) => ({
    managementApp: t.field({ type: ManagementAppRef, resolve: (notification) => notification.managementAppId }),
    message: t.exposeString('message'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.objectField(DirectoryUserRef, 'notifications', (t) =>
  t.loadableList({
    type: StoreNotificationRef,
    description: 'Messages about native apps published to this user (directly or through a group), newest first.',
    load: async (userIds: number[], { domain }) => domain.management.notificationsOf(userIds),
    resolve: (user) => user.id,
  }),
);

builder.objectFields(EnvironmentRef, (t) => ({
  managementApps: t.loadableList({
    type: ManagementAppRef,
    description: "Apps registered in this environment's Management runtime.",
    load: async (environmentIds: number[], { domain }) => domain.management.appsOfEnvironments(environmentIds),
    resolve: (environment) => environment.id,
  }),
  enterpriseStore: t.field({
    type: [ManagementAppRef],
    description: 'What a directory user sees in the Enterprise Store: ACTIVE apps targeted at them directly or through a group.',
    args: { userId: t.arg.id({ required: true }) },
    resolve: async (environment, { userId }, context) => {
      const id = localId(String(userId), 'DirectoryUser');
      const user = id === null ? null : await DirectoryUserRef.getDataloader(context).load(id);
      if (!user || user.environmentId !== environment.id) return [];
      return context.domain.management.enterpriseStore(environment.id, user.id);
    },
  }),
  signingPublicKey: t.string({
    description: "PEM (SPKI) Ed25519 public key that verifies every signature of this environment's Management artifacts.",
    resolve: (environment, _args, { domain }) => domain.management.publicKey(environment.id),
  }),
}));
