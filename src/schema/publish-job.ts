import type { ClientPlatform } from '../domain/binaries/platforms.js';
import { jobStates, publishActions, publishKinds, stageStates } from '../domain/vocabulary.js';
import { progressOf, trackingId, type JobOrderField, type PublishJob, type PublishStage, type StageKey } from '../domain/publish/jobs.js';
import { can } from '../domain/policy.js';
import { nativeRequestOf, warningsOf, type NativeRequest } from '../domain/publish/job-records.js';
import { publishErrorCodes, type PublishErrorCode } from '../domain/publish/runner.js';
import { UserRef } from './account.js';
import { AppRef } from './app.js';
import { builder } from './builder.js';
import type { Loaders } from './loaders.js';
import { ClientBinaryRef, ClientPlatformEnum } from './client-binary.js';
import { orderByInput, toConnection } from './connection.js';
import { DirectoryGroupRef, DirectoryPrincipalUnion, DirectoryUserRef } from './directory.js';
import { EnvironmentRef } from './environment.js';
import { isPresent, localId, managementAppRef, parseRowId } from './ids.js';
import { toPayload, UserErrorRef, type Payload } from './payloads.js';


export const PublishKindEnum = builder.enumType('PublishKind', {
  description: 'What a publish job delivers.',
  values: {
    NATIVE_CLIENT: { description: "Native binaries to the environment's Volt MX Management runtime (Enterprise Store)." },
    SERVICES_AND_WEB: { description: "The app's identity and integration services, and its web client, to the environment's runtime." },
  } satisfies Record<(typeof publishKinds)[number], unknown>,
});
const PublishActionEnum = builder.enumType('PublishAction', {
  description: 'Whether a job puts something in place or takes it out.',
  values: {
    PUBLISH: { description: 'Publishes (adds or replaces).' },
    UNPUBLISH: { description: 'Unpublishes the app, or removes one Management version.' },
  } satisfies Record<(typeof publishActions)[number], unknown>,
});
export const PublishJobStateEnum = builder.enumType('PublishJobState', {
  description: 'Where a publish job stands.',
  values: {
    QUEUED: { description: 'Accepted, waiting to run; the environment is BUSY already.' },
    RUNNING: { description: 'Running its stages.' },
    SUCCEEDED: { description: 'Finished; every stage succeeded or was skipped.' },
    FAILED: { description: 'A stage failed; every change was rolled back. See error.' },
    CANCELING: { description: 'Cancel requested; rolling back.' },
    CANCELED: { description: 'Canceled; every change was rolled back.' },
  } satisfies Record<(typeof jobStates)[number], unknown>,
});
const StageStateEnum = builder.enumType('StageState', {
  description: 'Where one stage of a job stands.',
  values: {
    PENDING: { description: 'Not started yet.' },
    RUNNING: { description: 'Running now.' },
    SUCCEEDED: { description: 'Done.' },
    FAILED: { description: 'Failed; the job fails with it.' },
    SKIPPED: { description: 'Not run: it did not apply to this request, or an earlier stage failed; message says which.' },
    CANCELED: { description: 'Stopped or never run because the job was canceled.' },
  } satisfies Record<(typeof stageStates)[number], unknown>,
});
const PublishStageKeyEnum = builder.enumType('PublishStageKey', {
  description: 'Which step of a publish a stage is.',
  values: {
    VALIDATE: { description: 'Check the request against the environment as it stands.' },
    TRANSFER_BINARIES: { description: 'Copy the binaries to the Management runtime.' },
    WRAP: { description: 'Wrap binaries (WRAP_AND_SIGN only).' },
    SIGN: { description: "Sign each artifact with the environment's key." },
    REGISTER_VERSIONS: { description: 'Register the new versions with the Management app.' },
    REMOVE_VERSIONS: { description: 'Remove every version of the platforms named in removePlatforms.' },
    APPLY_TARGETS: { description: 'Replace the targets, when given.' },
    SET_WORKFLOW_STATE: { description: 'Set DRAFT or ACTIVE.' },
    NOTIFY_TARGETS: { description: 'Notify the targeted directory users of an ACTIVE app.' },
    PUBLISH_IDENTITY_SERVICES: { description: "Publish the app's identity services to the environment." },
    PUBLISH_INTEGRATION_SERVICES: { description: "Publish the app's integration services." },
    DEPLOY_WEB_CLIENT: { description: 'Deploy the web client (skipped where the environment allows manual publish only).' },
    ACTIVATE: { description: 'Make the published services live.' },
    UNPUBLISH: { description: 'Take the app, or one Management version, out of the environment.' },
  } satisfies Record<StageKey, unknown>,
});
export const PublishOptionEnum = builder.enumType('PublishOption', {
  description: 'Where a native publish goes in the Management runtime.',
  values: {
    PREVIEW: { description: 'Published as <AppName>_preview, always SIGN_ONLY, installable beside the production copy.' },
    APP_STORE: { description: 'Published as the production app (ADMIN only).' },
  },
});
export const SignActionEnum = builder.enumType('SignAction', {
  description: 'How native binaries are prepared before delivery.',
  values: {
    SIGN_ONLY: { description: "Signed with the environment's key as uploaded." },
    WRAP_AND_SIGN: { description: 'Wrapped (a new file), then signed.' },
  },
});
export const WorkflowStateEnum = builder.enumType('WorkflowState', {
  description: "A Management app's visibility.",
  values: {
    DRAFT: { description: 'In the Management console only.' },
    ACTIVE: { description: 'In the Management console and the Enterprise Store; needs at least one target.' },
  },
});

const PublishStageRef = builder.objectRef<PublishStage>('PublishStage').implement({
  description: 'One step of a publish job, in the order the job runs them.',
  fields: (t) => ({
    key: t.field({ type: PublishStageKeyEnum, description: 'Which step it is.', resolve: (stage) => stage.key as StageKey }),
    title: t.exposeString('title', { description: 'The step in words, for people.' }),
    state: t.expose('state', { type: StageStateEnum, description: 'Where it stands.' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true, description: 'When it started; null until then.' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true, description: 'When it ended; null until then.' }),
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
  description: 'Why a job failed.',
  fields: (t) => ({
    code: t.expose('code', { type: PublishErrorCodeEnum, description: 'What kind of failure, for programs.' }),
    message: t.exposeString('message', { description: 'What went wrong, for people.' }),
    stage: t.field({ type: PublishStageKeyEnum, nullable: true, description: 'The stage that failed; null when none had started.', resolve: (error) => error.stage as StageKey | null }),
  }),
});

/** What a batch load found: objects deleted since the job ran are left out. */
const loaded = <T>(value: T | Error | null | undefined): value is T => value != null && !(value instanceof Error);

const NativePublishOptionsRef = builder.objectRef<{ request: NativeRequest }>('NativePublishOptions').implement({
  description: 'What a native publish job was asked to do.',
  fields: (t) => ({
    option: t.field({ type: PublishOptionEnum, description: 'Preview or production.', resolve: ({ request }) => request.option }),
    signAction: t.field({ type: SignActionEnum, description: 'How the binaries were prepared.', resolve: ({ request }) => request.signAction }),
    workflowState: t.field({ type: WorkflowStateEnum, description: 'The workflow state it set.', resolve: ({ request }) => request.workflowState }),
    binaries: t.field({
      type: [ClientBinaryRef],
      description: 'The binaries this job published; one deleted since then is left out.',
      resolve: async ({ request }, _args, context) =>
        (await ClientBinaryRef.getDataloader(context).loadMany(request.binaryIds)).filter(loaded),
    }),
    removePlatforms: t.field({ type: [ClientPlatformEnum], description: 'Platforms whose every version it removed.', resolve: ({ request }) => request.removePlatforms as ClientPlatform[] }),
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

/** Stages read ahead (a subscription event, a dashboard's rows) come without a promise. */
const stagesOf = (job: PublishJobView, loaders: Loaders): PublishStage[] | Promise<PublishStage[]> => job.stagesAt ?? loaders.stages.load(job.id);

export const PublishJobRef = builder.loadableNode('PublishJob', {
  description: 'One publish or unpublish of an app in an environment, run stage by stage (R21-R25).',
  id: { resolve: (job: PublishJobView) => job.id, parse: parseRowId },
  load: async (ids: number[], context) => (await context.domain.jobs.byIds(context.principal, ids)).filter(isPresent),
  sort: (job) => job.id,
  fields: (t) => ({
    trackingId: t.string({
      description: 'Short human-readable reference for support, unique per account.',
      resolve: (job) => trackingId(job),
    }),
    app: t.field({ type: AppRef, description: 'The app published.', resolve: (job) => job.appId }),
    environment: t.field({ type: EnvironmentRef, description: 'Where it is published.', resolve: (job) => job.environmentId }),
    kind: t.expose('kind', { type: PublishKindEnum, description: 'What it delivers.' }),
    action: t.expose('action', { type: PublishActionEnum, description: 'Publish or unpublish.' }),
    sync: t.exposeBoolean('sync', { description: 'True when the request waited for the job to finish (synchronous publish).' }),
    state: t.expose('state', { type: PublishJobStateEnum, description: 'Where the job stands.' }),
    progress: t.float({
      description: '0 to 1.',
      resolve: async (job, _args, { loaders }) => progressOf(await stagesOf(job, loaders)),
    }),
    stages: t.field({ type: [PublishStageRef], description: 'Its stages, in the order they run.', resolve: (job, _args, { loaders }) => stagesOf(job, loaders) }),
    nativeOptions: t.field({
      type: NativePublishOptionsRef,
      nullable: true,
      description: 'What a native publish was asked to do; null for other jobs.',
      resolve: (job) => {
        const request = nativeRequestOf(job);
        return request && { request };
      },
    }),
    requestedBy: t.field({ type: UserRef, description: 'Who started it.', resolve: (job) => job.requestedBy }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was accepted.' }),
    updatedAt: t.field({
      type: 'DateTime',
      description: 'When it or one of its stages last changed; the creation time until then.',
      resolve: (job) => job.updatedAt ?? job.createdAt,
    }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true, description: 'When it started running; null while QUEUED.' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true, description: 'When it reached a final state; null until then.' }),
    viewerCanCancel: t.boolean({
      description: "Whether the caller's role allows cancelPublishJob on it: a MEMBER their own jobs, an ADMIN anyone's. A finished job is still refused (JOB_NOT_CANCELABLE).",
      resolve: (job, _args, { principal }) => can(principal, 'cancelJob', job),
    }),
    error: t.field({
      type: PublishErrorRef,
      nullable: true,
      description: 'Why it failed; null unless FAILED.',
      resolve: (job) => (job.errorCode ? { code: job.errorCode as PublishErrorCode, message: job.errorMessage ?? '', stage: job.errorStage } : null),
    }),
    warnings: t.stringList({ description: 'Things the caller should know that did not stop the job, each starting with a code.', resolve: warningsOf }),
    revision: t.exposeInt('revision', {
      description: 'Grows with every change of the job or a stage: subscribers can tell each change once, in order.',
    }),
  }),
});

const PublishJobOrderFieldEnum = builder.enumType('PublishJobOrderField', {
  description: 'What publish jobs can be ordered by.',
  values: {
    CREATED_AT: { description: 'When the job was accepted (the default, descending: newest first).' },
    UPDATED_AT: { description: 'When the job or one of its stages last changed.' },
    FINISHED_AT: { description: 'When the job reached a final state; unfinished jobs count as finishing after every finished one.' },
  } satisfies Record<JobOrderField, unknown>,
});

const PublishJobOrder = orderByInput('PublishJobOrder', PublishJobOrderFieldEnum, 'publish jobs');

builder.queryField('publishJobs', (t) =>
  t.connection(
    {
      type: PublishJobRef,
      description: "The account's publish jobs, newest first unless `orderBy` says otherwise.",
      args: {
        appId: t.arg.id({ description: 'Only jobs of this App.' }),
        environmentId: t.arg.id({ description: 'Only jobs in this Environment.' }),
        states: t.arg({ type: [PublishJobStateEnum], description: 'Only jobs in one of these states.' }),
        since: t.arg({
          type: 'DateTime',
          description: 'Only jobs created or changed at or after this moment: what a dashboard missed while away.',
        }),
        orderBy: t.arg({ type: PublishJobOrder, description: 'Order of the list; defaults to CREATED_AT descending.' }),
      },
      resolve: async (_root, args, { domain, principal }) =>
        toConnection(
          await domain.publish.list(principal, {
            first: args.first,
            after: args.after,
            last: args.last,
            before: args.before,
            ...(args.appId != null ? { appId: localId(String(args.appId), 'App') } : {}),
            ...(args.environmentId != null ? { environmentId: localId(String(args.environmentId), 'Environment') } : {}),
            states: args.states ?? null,
            since: args.since ?? null,
            orderBy: args.orderBy ?? null,
          }),
        ),
    },
    { name: 'PublishJobConnection', description: 'A page of publish jobs.' },
    { name: 'PublishJobEdge', description: 'A publish job in a page, with its cursor.' },
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
  description: 'What a publish, unpublish or cancel answers.',
  fields: (t) => ({
    job: t.field({ type: PublishJobRef, nullable: true, description: 'The job; null when refused.', resolve: (payload) => payload.job ?? null }),
    userErrors: t.field({ type: [UserErrorRef], description: 'Why the request was refused (no job was created); empty on success.', resolve: (payload) => payload.userErrors }),
  }),
});

const PublishTargetsInput = builder.inputType('PublishTargetsInput', {
  description: 'Who gets a native app in the Enterprise Store; replaces the existing targets.',
  fields: (t) => ({
    userIds: t.idList({ description: 'DirectoryUsers of the environment (not CLOUD).' }),
    groupIds: t.idList({ description: 'DirectoryGroups of the environment (not CLOUD).' }),
  }),
});

const PublishNativeClientInput = builder.inputType('PublishNativeClientInput', {
  description: "A native publish to an environment's Management runtime.",
  fields: (t) => ({
    appId: t.id({ required: true, description: 'The App to publish.' }),
    environmentId: t.id({ required: true, description: 'The Environment, with Management enabled.' }),
    binaryIds: t.idList({ description: 'Versions to publish: at most one binary per platform, each of this app.' }),
    removePlatforms: t.field({
      type: [ClientPlatformEnum],
      description: 'Platforms whose every version is removed from the Management runtime.',
    }),
    option: t.field({ type: PublishOptionEnum, required: true, description: 'PREVIEW (MEMBER) or APP_STORE (ADMIN).' }),
    signAction: t.field({ type: SignActionEnum, description: 'Ignored (SIGN_ONLY) for PREVIEW; defaults to SIGN_ONLY.' }),
    workflowState: t.field({ type: WorkflowStateEnum, required: true, description: 'DRAFT, or ACTIVE (needs targets).' }),
    targets: t.field({ type: PublishTargetsInput, description: 'Replaces the targets when given; kept when omitted.' }),
    sync: t.boolean({ description: 'Wait for the job to finish before answering.' }),
  }),
});

const RemoveManagementVersionInput = builder.inputType('RemoveManagementVersionInput', {
  description: 'One version to take out of a Management app.',
  fields: (t) => ({
    managementAppId: t.id({ required: true, description: 'The ManagementApp (production: ADMIN; preview: MEMBER).' }),
    platform: t.field({ type: ClientPlatformEnum, required: true, description: 'The platform of the version.' }),
    version: t.string({ required: true, description: 'The version, as held (1, 1.0 and 1.0.0 are the same).' }),
    sync: t.boolean({ description: 'Wait for the job to finish before answering.' }),
  }),
});

const CancelPublishJobInput = builder.inputType('CancelPublishJobInput', {
  description: 'The job to cancel.',
  fields: (t) => ({
    jobId: t.id({ required: true, description: 'The PublishJob: your own (MEMBER), or anyone\'s (ADMIN).' }),
    abandonRollback: t.boolean({
      description:
        "ADMIN only: end a job whose rollback waits for a runtime that does not answer, without it (FAILED, ROLLBACK_ABANDONED); the runtime may hold a partial publish.",
    }),
  }),
});

builder.mutationFields((t) => ({
  publishNativeClient: t.field({
    type: PublishPayloadRef,
    description: "Publish native binaries to an environment's Management runtime: previews as MEMBER, the App Store as ADMIN.",
    args: { input: t.arg({ type: PublishNativeClientInput, required: true, description: 'What to publish where.' }) },
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
    args: { input: t.arg({ type: RemoveManagementVersionInput, required: true, description: 'The version to remove.' }) },
    resolve: async (_root, { input }, { domain, principal }) =>
      toPayload('job', await domain.native.removeVersion(principal, { ...input, managementAppId: managementAppRef(input.managementAppId) })),
  }),
  cancelPublishJob: t.field({
    type: PublishPayloadRef,
    description: 'Cancel a job that has not finished; its changes are rolled back (R24).',
    args: { input: t.arg({ type: CancelPublishJobInput, required: true, description: 'The job to cancel.' }) },
    resolve: async (_root, { input }, { domain, principal }) =>
      toPayload('job', await domain.publish.cancel(principal, localId(input.jobId, 'PublishJob'), { abandonRollback: input.abandonRollback ?? null })),
  }),
}));
