import type { ClientPlatform } from '../domain/binaries/platforms.js';
import { jobStates, publishActions, publishKinds, stageStates } from '../db/schema.js';
import { progressOf, stageKeys, trackingId, type PublishJob, type PublishStage, type StageKey } from '../domain/publish/jobs.js';
import type { NativeRequest } from '../domain/publish/native.js';
import { publishErrorCodes, type PublishErrorCode } from '../domain/publish/runner.js';
import { UserRef } from './account.js';
import { AppRef } from './app.js';
import { builder } from './builder.js';
import type { Loaders } from './loaders.js';
import { ClientBinaryRef, ClientPlatformEnum } from './client-binary.js';
import { toConnection } from './connection.js';
import { DirectoryGroupRef, DirectoryPrincipalUnion, DirectoryUserRef } from './directory.js';
import { EnvironmentRef } from './environment.js';
import { isPresent, localId, parseRowId } from './ids.js';
import { toPayload, UserErrorRef, type Payload } from './payloads.js';


export const PublishKindEnum = builder.enumType('PublishKind', { values: publishKinds });
const PublishActionEnum = builder.enumType('PublishAction', { values: publishActions });
export const PublishJobStateEnum = builder.enumType('PublishJobState', { values: jobStates });
const StageStateEnum = builder.enumType('StageState', { values: stageStates });
const PublishStageKeyEnum = builder.enumType('PublishStageKey', { values: stageKeys });
export const PublishOptionEnum = builder.enumType('PublishOption', {
  values: {
    PREVIEW: { description: 'Published as <AppName>_preview, always SIGN_ONLY, installable beside the production copy.' },
    APP_STORE: {},
  },
});
export const SignActionEnum = builder.enumType('SignAction', { values: ['SIGN_ONLY', 'WRAP_AND_SIGN'] as const });
export const WorkflowStateEnum = builder.enumType('WorkflowState', {
  values: {
    DRAFT: { description: 'In the Management console only.' },
    ACTIVE: { description: 'In the Management console and the Enterprise Store; needs at least one target.' },
  },
});

const PublishStageRef = builder.objectRef<PublishStage>('PublishStage').implement({
  fields: (t) => ({
    key: t.field({ type: PublishStageKeyEnum, resolve: (stage) => stage.key as StageKey }),
    title: t.exposeString('title'),
    state: t.expose('state', { type: StageStateEnum }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    message: t.exposeString('message', { nullable: true, description: 'Why it was skipped or failed, or what it did.' }),
  }),
});

const PublishErrorCodeEnum = builder.enumType('PublishErrorCode', {
  description: 'Why a publish job failed.',
  values: Object.fromEntries(Object.entries(publishErrorCodes).map(([code, description]) => [code, { description }])) as {
    [code in PublishErrorCode]: { description: string };
  },
});

const PublishErrorRef = builder.objectRef<{ code: PublishErrorCode; message: string; stage: string | null }>('PublishError').implement({
  fields: (t) => ({
    code: t.expose('code', { type: PublishErrorCodeEnum }),
    message: t.exposeString('message'),
    stage: t.field({ type: PublishStageKeyEnum, nullable: true, resolve: (error) => error.stage as StageKey | null }),
  }),
});

/** What a batch load found: objects deleted since the job ran are left out. */
const loaded = <T>(value: T | Error | null | undefined): value is T => value != null && !(value instanceof Error);

const NativePublishOptionsRef = builder.objectRef<{ request: NativeRequest }>('NativePublishOptions').implement({
  fields: (t) => ({
    option: t.field({ type: PublishOptionEnum, resolve: ({ request }) => request.option }),
    signAction: t.field({ type: SignActionEnum, resolve: ({ request }) => request.signAction }),
    workflowState: t.field({ type: WorkflowStateEnum, resolve: ({ request }) => request.workflowState }),
    binaries: t.field({
      type: [ClientBinaryRef],
      description: 'The binaries this job published; one deleted since then is left out.',
      resolve: async ({ request }, _args, context) =>
        (await ClientBinaryRef.getDataloader(context).loadMany(request.binaryIds)).filter(loaded),
    }),
    removePlatforms: t.field({ type: [ClientPlatformEnum], resolve: ({ request }) => request.removePlatforms as ClientPlatform[] }),
    targets: t.field({
      type: [DirectoryPrincipalUnion],
      description: 'The targets given with the request; empty when the job kept the existing ones.',
      resolve: async ({ request }, _args, context) => {
        const [users, groups] = await Promise.all([
          DirectoryUserRef.getDataloader(context).loadMany(request.targets?.userIds ?? []),
          DirectoryGroupRef.getDataloader(context).loadMany(request.targets?.groupIds ?? []),
        ]);
        return [...users.filter(loaded), ...groups.filter(loaded)];
      },
    }),
  }),
});

/** A job, and in a subscription event its stages as they stood at that change. */
export type PublishJobView = PublishJob & { stagesAt?: PublishStage[] };

const stagesOf = async (job: PublishJobView, loaders: Loaders) => job.stagesAt ?? (await loaders.stages.load(job.id));

export const PublishJobRef = builder.loadableNode('PublishJob', {
  id: { resolve: (job: PublishJobView) => job.id, parse: parseRowId },
  load: async (ids: number[], context) => context.domain.jobs.byIds(context.principal, ids).filter(isPresent),
  sort: (job) => job.id,
  fields: (t) => ({
    trackingId: t.string({
      description: 'Short human-readable reference for support, unique per account.',
      resolve: (job) => trackingId(job),
    }),
    app: t.field({ type: AppRef, resolve: (job) => job.appId }),
    environment: t.field({ type: EnvironmentRef, resolve: (job) => job.environmentId }),
    kind: t.expose('kind', { type: PublishKindEnum }),
    action: t.expose('action', { type: PublishActionEnum }),
    sync: t.exposeBoolean('sync', { description: 'True when the request waited for the job to finish (synchronous publish).' }),
    state: t.expose('state', { type: PublishJobStateEnum }),
    progress: t.float({
      description: '0 to 1.',
      resolve: async (job, _args, { loaders }) => progressOf(await stagesOf(job, loaders)),
    }),
    stages: t.field({ type: [PublishStageRef], resolve: (job, _args, { loaders }) => stagesOf(job, loaders) }),
    nativeOptions: t.field({
      type: NativePublishOptionsRef,
      nullable: true,
      resolve: (job) => (job.kind === 'NATIVE_CLIENT' && job.action === 'PUBLISH' ? { request: JSON.parse(job.request) as NativeRequest } : null),
    }),
    requestedBy: t.field({ type: UserRef, resolve: (job) => job.requestedBy }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    error: t.field({
      type: PublishErrorRef,
      nullable: true,
      resolve: (job) => (job.errorCode ? { code: job.errorCode as PublishErrorCode, message: job.errorMessage ?? '', stage: job.errorStage } : null),
    }),
    warnings: t.stringList({ resolve: (job) => JSON.parse(job.warnings) as string[] }),
    revision: t.exposeInt('revision', {
      description: 'Grows with every change of the job or a stage: subscribers can tell each change once, in order.',
    }),
  }),
});

builder.queryField('publishJobs', (t) =>
  t.connection(
    {
      type: PublishJobRef,
      description: 'Newest first.',
      args: {
        appId: t.arg.id(),
        environmentId: t.arg.id(),
        states: t.arg({ type: [PublishJobStateEnum] }),
      },
      resolve: (_root, args, { domain, principal }) =>
        toConnection(
          domain.publish.list(principal, {
            first: args.first,
            after: args.after,
            last: args.last,
            before: args.before,
            ...(args.appId != null ? { appId: localId(String(args.appId), 'App') } : {}),
            ...(args.environmentId != null ? { environmentId: localId(String(args.environmentId), 'Environment') } : {}),
            states: args.states ?? null,
          }),
        ),
    },
    { name: 'PublishJobConnection' },
    { name: 'PublishJobEdge' },
  ),
);

builder.objectField(EnvironmentRef, 'activeJob', (t) =>
  t.field({
    type: PublishJobRef,
    nullable: true,
    description: 'The publish job that makes the environment BUSY.',
    resolve: (environment, _args, { loaders }) => loaders.activeJob.load(environment.id),
  }),
);

export const PublishPayloadRef = builder.objectRef<Payload<'job', PublishJob>>('PublishPayload').implement({
  fields: (t) => ({
    job: t.field({ type: PublishJobRef, nullable: true, resolve: (payload) => payload.job ?? null }),
    userErrors: t.field({ type: [UserErrorRef], resolve: (payload) => payload.userErrors }),
  }),
});

const PublishTargetsInput = builder.inputType('PublishTargetsInput', {
  fields: (t) => ({ userIds: t.idList(), groupIds: t.idList() }),
});

const PublishNativeClientInput = builder.inputType('PublishNativeClientInput', {
  fields: (t) => ({
    appId: t.id({ required: true }),
    environmentId: t.id({ required: true }),
    binaryIds: t.idList({ description: 'Versions to publish: at most one binary per platform, each of this app.' }),
    removePlatforms: t.field({
      type: [ClientPlatformEnum],
      description: 'Platforms whose every version is removed from the Management runtime.',
    }),
    option: t.field({ type: PublishOptionEnum, required: true }),
    signAction: t.field({ type: SignActionEnum, description: 'Ignored (SIGN_ONLY) for PREVIEW; defaults to SIGN_ONLY.' }),
    workflowState: t.field({ type: WorkflowStateEnum, required: true }),
    targets: t.field({ type: PublishTargetsInput }),
    sync: t.boolean({ description: 'Wait for the job to finish before answering.' }),
  }),
});

const RemoveManagementVersionInput = builder.inputType('RemoveManagementVersionInput', {
  fields: (t) => ({
    managementAppId: t.id({ required: true }),
    platform: t.field({ type: ClientPlatformEnum, required: true }),
    version: t.string({ required: true }),
    sync: t.boolean(),
  }),
});

const CancelPublishJobInput = builder.inputType('CancelPublishJobInput', {
  fields: (t) => ({ jobId: t.id({ required: true }) }),
});

builder.mutationFields((t) => ({
  publishNativeClient: t.field({
    type: PublishPayloadRef,
    args: { input: t.arg({ type: PublishNativeClientInput, required: true }) },
    resolve: async (_root, { input }, { domain, principal }) =>
      toPayload(
        'job',
        await domain.native.publishNative(principal, {
          ...input,
          appId: localId(input.appId, 'App'),
          environmentId: localId(input.environmentId, 'Environment'),
          binaryIds: input.binaryIds?.map((id) => localId(id, 'ClientBinary')) ?? null,
          targets: input.targets
            ? {
                userIds: input.targets.userIds?.map((id) => localId(id, 'DirectoryUser')) ?? null,
                groupIds: input.targets.groupIds?.map((id) => localId(id, 'DirectoryGroup')) ?? null,
              }
            : null,
        }),
      ),
  }),
  removeManagementVersion: t.field({
    type: PublishPayloadRef,
    description: "Remove one version from an environment's Management runtime (the way to pull a bad release).",
    args: { input: t.arg({ type: RemoveManagementVersionInput, required: true }) },
    resolve: async (_root, { input }, { domain, principal }) =>
      toPayload('job', await domain.native.removeVersion(principal, { ...input, managementAppId: localId(input.managementAppId, 'ManagementApp') })),
  }),
  cancelPublishJob: t.field({
    type: PublishPayloadRef,
    args: { input: t.arg({ type: CancelPublishJobInput, required: true }) },
    resolve: (_root, { input }, { domain, principal }) => toPayload('job', domain.publish.cancel(principal, localId(input.jobId, 'PublishJob'))),
  }),
}));
