import { storePath } from '../../runtime/serve/paths.js';
import { fileBlob } from '../../runtime/embedded/index.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { BlobStore } from '../binaries/blob-store.js';
import type { ClientPlatform } from '../binaries/platforms.js';
import type { BinaryService, ClientBinary } from '../binaries/service.js';
import { versionKey } from '../binaries/versions.js';
import type { DirectoryService } from '../directory.js';
import type { EnvironmentService } from '../environments.js';
import type { ManagementApp, ManagementReads, RuntimeObjectRef, SignAction, WorkflowState } from '../management.js';
import type { Principal } from '../principal.js';
import { denial } from '../policy.js';
import { fail, notFound, userError, type Result, type UserError } from '../result.js';
import { byNullableIds } from '../rows.js';
import { compareVersions, formatBytes } from '../validation.js';
import type { ArtifactWorkers } from './artifacts.js';
import { nativeRequestOf, requestFor, versionRemovalOf, type NativeRequest, type PublishOption, type RemoveVersionRequest } from './job-records.js';
import { stageKeys, type PublishJob, type StageKey } from './jobs.js';
import { StageFailure, type JobPlan, type StageContext, type StageDefinition } from './runner.js';
import type { PublishService } from './service.js';
import type { ArtifactSigning } from './signing.js';

export interface NativePublishInput {
  appId: number | null;
  environmentId: number | null;
  binaryIds?: (number | null)[] | null;
  removePlatforms?: ClientPlatform[] | null;
  option: PublishOption;
  signAction?: SignAction | null;
  workflowState: WorkflowState;
  targets?: { userIds?: (number | null)[] | null; groupIds?: (number | null)[] | null } | null;
  sync?: boolean | null;
}

export const NATIVE_STAGE_TITLES: Partial<Record<StageKey, string>> = {
  VALIDATE: 'Validate the request',
  TRANSFER_BINARIES: 'Transfer binaries to Management',
  WRAP: 'Wrap binaries',
  SIGN: 'Sign artifacts',
  REGISTER_VERSIONS: 'Register versions',
  REMOVE_VERSIONS: 'Remove platform versions',
  APPLY_TARGETS: 'Apply targets',
  SET_WORKFLOW_STATE: 'Set workflow state',
  NOTIFY_TARGETS: 'Notify targeted users',
  UNPUBLISH: 'Remove the version',
};

/** R35: the native stages are the first nine, in the order every job runs them. */
const NATIVE_STAGES: StageKey[] = stageKeys.slice(0, stageKeys.indexOf('NOTIFY_TARGETS') + 1);

const MAX_IDS = 1000;

/** `<AppName>` or `<AppName>_preview` (R28). */
export const managementAppName = (appName: string, preview: boolean): string => (preview ? `${appName}_preview` : appName);

interface Artifact {
  binary: ClientBinary;
  sha256: string;
  sizeBytes: number;
  wrapped: boolean;
  signature?: string;
}

/**
 * Native client publishing to an environment's Volt MX Management (R26-R35), and taking one
 * version out again (R31).
 */
export class NativePublishing {
  constructor(
    private readonly publish: PublishService,
    private readonly binaries: BinaryService,
    private readonly management: ManagementReads,
    private readonly directory: DirectoryService,
    private readonly environments: EnvironmentService,
    private readonly store: BlobStore,
    private readonly signing: ArtifactSigning,
    private readonly appName: (appId: number) => Promise<{ name: string; description: string | null }>,
    /** R55: the live store tokens of users, so that each notification carries its user's link. */
    private readonly storeTokens: (environmentId: number, userIds: readonly number[]) => Promise<Map<number, string>>,
    private readonly artifactWorkers: ArtifactWorkers,
  ) {}

  /** R21: validates everything up front; only then is there a job. */
  async publishNative(principal: Principal, input: NativePublishInput): Promise<Result<PublishJob>> {
    const forbidden = denial(principal, 'publishNative', { option: input.option });
    if (forbidden) return fail(forbidden);
    const target = await this.publish.target(principal, input.appId, input.environmentId);
    if (!target.ok) return target;
    const { app, environment, warnings } = target.value;
    if (!environment.managementEnabled)
      return fail(userError('ENVIRONMENT_NOT_MANAGED', `Environment ${environment.name} has no Volt MX Management runtime`, ['input', 'environmentId']));

    const problems: UserError[] = [];
    const binaryIds = input.binaryIds ?? [];
    const removePlatforms = [...new Set(input.removePlatforms ?? [])];
    if (binaryIds.length === 0 && removePlatforms.length === 0)
      return fail(userError('NOTHING_TO_PUBLISH', 'Name binaries to publish or platforms to remove', ['input', 'binaryIds']));
    if (binaryIds.length > MAX_IDS) return fail(userError('LIMIT_EXCEEDED', `At most ${MAX_IDS} binaries`, ['input', 'binaryIds']));

    const found = await byNullableIds(binaryIds, (ids) => this.binaries.byIds(principal, ids));
    const chosen: ClientBinary[] = [];
    found.forEach((binary, index) => {
      const field = ['input', 'binaryIds', String(index)];
      if (!binary || binary.appId !== app.id) problems.push(userError('NOT_FOUND', `No client binary of ${app.name} with that id`, field));
      else if (binary.platform === 'WEB') problems.push(userError('INVALID_INPUT', 'Web binaries are published with publishServicesAndWeb', field));
      else if (chosen.some((other) => other.platform === binary.platform))
        problems.push(userError('INVALID_INPUT', `At most one binary per platform; ${binary.platform} is named twice`, field));
      else chosen.push(binary);
    });
    removePlatforms.forEach((platform) => {
      if (platform === 'WEB') problems.push(userError('INVALID_INPUT', 'WEB has no versions in Management', ['input', 'removePlatforms']));
      if (chosen.some((binary) => binary.platform === platform))
        problems.push(userError('INVALID_INPUT', `${platform} is both published and removed`, ['input', 'removePlatforms']));
    });

    const preview = input.option === 'PREVIEW';
    // What the runtime holds decides downgrades and kept targets; an environment whose runtime
    // does not answer is checked again at VALIDATE, where it must answer.
    const existing = await this.management.find(environment, app.id, preview);
    const highest = highestVersions(existing);
    chosen.forEach((binary) => {
      const held = highest.get(binary.platform);
      if (held && compareVersions(binary.version, held.version) <= 0)
        problems.push(
          userError(
            'DOWNGRADE_NOT_ALLOWED',
            `${managementAppName(app.name, preview)} already holds ${binary.platform} ${held.version}; publish a higher version than that`,
            ['input', 'binaryIds', String(binaryIds.indexOf(binary.id))],
          ),
        );
    });

    const targets = input.targets ? await this.resolveTargets(principal, environment.id, input.targets, problems) : null;
    if (input.workflowState === 'ACTIVE') {
      const kept = existing ? existing.targets.length : 0;
      const count = targets ? targets.userIds.length + targets.groupIds.length : kept;
      if (count === 0)
        problems.push(userError('TARGETS_REQUIRED', 'An ACTIVE app needs at least one user or group to target', ['input', 'targets']));
    }
    if (problems.length > 0) return fail(...problems);

    const request: NativeRequest = {
      option: input.option,
      // R28: a preview is always SIGN_ONLY.
      signAction: preview ? 'SIGN_ONLY' : (input.signAction ?? 'SIGN_ONLY'),
      workflowState: input.workflowState,
      binaryIds: chosen.map((binary) => binary.id),
      removePlatforms,
      targets,
    };
    return this.publish.start(principal, {
      appId: app.id,
      environmentId: environment.id,
      kind: 'NATIVE_CLIENT',
      action: 'PUBLISH',
      sync: input.sync ?? false,
      request,
      warnings,
      stages: NATIVE_STAGES.map((key) => ({ key, title: NATIVE_STAGE_TITLES[key] ?? key })),
    });
  }

  /** R31: one version out of a Management app, as a job with stage UNPUBLISH. */
  async removeVersion(
    principal: Principal,
    input: { managementAppId: RuntimeObjectRef | null; platform: ClientPlatform; version: string; sync?: boolean | null },
  ): Promise<Result<PublishJob>> {
    const [managementApp] = input.managementAppId === null ? [null] : await this.management.byRefs(principal, [input.managementAppId]);
    if (!managementApp) return fail(notFound('Management app', ['input', 'managementAppId']));
    const forbidden = denial(principal, 'removeManagementVersion', managementApp);
    if (forbidden) return fail(forbidden);
    const target = await this.publish.target(principal, managementApp.appId, managementApp.environmentId);
    if (!target.ok) return target;
    const held = managementApp.versions.find(
      (version) => version.platform === input.platform && version.versionKey === versionKeyOrNull(input.version),
    );
    if (!held) return fail(userError('NOT_FOUND', `The Management app holds no ${input.platform} version ${input.version}`, ['input', 'version']));
    const request: RemoveVersionRequest = { managementAppId: managementApp.id, preview: managementApp.preview, platform: input.platform, version: held.version };
    return this.publish.start(principal, {
      appId: managementApp.appId,
      environmentId: managementApp.environmentId,
      kind: 'NATIVE_CLIENT',
      action: 'UNPUBLISH',
      sync: input.sync ?? false,
      request,
      warnings: target.value.warnings,
      stages: (['VALIDATE', 'UNPUBLISH'] as const).map((key) => ({ key, title: NATIVE_STAGE_TITLES[key] ?? key })),
    });
  }

  private async resolveTargets(
    principal: Principal,
    environmentId: number,
    input: NonNullable<NativePublishInput['targets']>,
    problems: UserError[],
  ): Promise<{ userIds: number[]; groupIds: number[] }> {
    const userIds = [...new Set(input.userIds ?? [])];
    const groupIds = [...new Set(input.groupIds ?? [])];
    if (userIds.length + groupIds.length > MAX_IDS) {
      problems.push(userError('LIMIT_EXCEEDED', `At most ${MAX_IDS} targets`, ['input', 'targets']));
      return { userIds: [], groupIds: [] };
    }
    const check = (ids: (number | null)[], rows: ({ environmentId: number; source: string } | null)[], field: string, what: string) =>
      ids.forEach((_id, index) => {
        const row = rows[index];
        if (!row || row.environmentId !== environmentId)
          problems.push(userError('NOT_FOUND', `No directory ${what} of this environment with that id`, ['input', 'targets', field]));
        else if (row.source === 'CLOUD')
          problems.push(userError('TARGET_NOT_ALLOWED', `CLOUD ${what}s cannot be targeted`, ['input', 'targets', field]));
      });
    const knownUsers = userIds.filter((id): id is number => id !== null);
    const knownGroups = groupIds.filter((id): id is number => id !== null);
    check(userIds, await byNullableIds(userIds, (ids) => this.directory.usersByIds(principal, ids)), 'userIds', 'user');
    check(groupIds, await byNullableIds(groupIds, (ids) => this.directory.groupsByIds(principal, ids)), 'groupIds', 'group');
    return { userIds: knownUsers, groupIds: knownGroups };
  }

  /** How a native publish job runs (R35). */
  publishPlan(): JobPlan {
    return {
      restoreScope: (job) => {
        const request = requestFor(nativeRequestOf(job), job);
        return { jobId: job.id, management: [{ appId: job.appId, preview: request.option === 'PREVIEW' }], services: null };
      },
      stages: (job) => this.nativeStages(job),
    };
  }

  removeVersionPlan(): JobPlan {
    return {
      restoreScope: (job) => {
        const request = requestFor(versionRemovalOf(job), job);
        return { jobId: job.id, management: [{ appId: job.appId, preview: request.preview }], services: null };
      },
      stages: (job) => {
        const request = requestFor(versionRemovalOf(job), job);
        return [
          {
            key: 'VALIDATE',
            run: async (context) => {
              await context.runtime.info();
              return { message: `Remove ${request.platform} ${request.version}` };
            },
          },
          {
            key: 'UNPUBLISH',
            run: async (context) => {
              const { removed } = await context.runtime.run(context.key('remove'), {
                type: 'removeVersion',
                appId: job.appId,
                preview: request.preview,
                platform: request.platform,
                versionKey: versionKey(request.version),
              });
              if (removed === 0) throw new StageFailure('NOT_FOUND', `${request.platform} ${request.version} is no longer there`);
              const now = (await context.runtime.management()).find((app) => app.appId === job.appId && app.preview === request.preview);
              const highest = highestVersions(now).get(request.platform);
              return {
                message: `Removed ${request.platform} ${request.version}; ${
                  highest ? `the store now offers ${highest.version}` : `no ${request.platform} version is left`
                }`,
              };
            },
          },
        ];
      },
    };
  }

  /** Sends a file to the runtime unless it holds it already (R48); the runtime verifies its SHA-256. */
  private async transfer(runtime: Runtime, path: string, sha256: string, sizeBytes: number, restorePoint: string): Promise<boolean> {
    if (await runtime.hasBlob(sha256)) return false;
    await runtime.putBlob(fileBlob(path, sha256, sizeBytes), restorePoint);
    return true;
  }

  private async nativeStages(job: PublishJob): Promise<StageDefinition[]> {
    const request = requestFor(nativeRequestOf(job), job);
    const principal = principalOf(job);
    const preview = request.option === 'PREVIEW';
    const app = await this.appName(job.appId);
    const name = managementAppName(app.name, preview);
    const which = { appId: job.appId, preview };
    const artifacts = (context: StageContext) => (context.carry.get('artifacts') ?? []) as Artifact[];
    const current = async (context: StageContext) => (await context.runtime.management()).find((one) => one.appId === job.appId && one.preview === preview);

    return [
      {
        key: 'VALIDATE',
        run: async (context) => {
          const binaries = await this.binaries.byIds(principal, request.binaryIds);
          if (binaries.some((binary) => !binary)) throw new StageFailure('NOT_FOUND', 'A binary of this publish was deleted');
          await context.runtime.info();
          const held = highestVersions(await current(context));
          for (const binary of binaries as ClientBinary[]) {
            const highest = held.get(binary.platform);
            if (highest && compareVersions(binary.version, highest.version) <= 0)
              throw new StageFailure('RUNTIME_FAULT', `${name} already holds ${binary.platform} ${highest.version}`);
          }
          context.carry.set(
            'artifacts',
            (binaries as ClientBinary[]).map((binary) => ({ binary, sha256: binary.sha256, sizeBytes: binary.sizeBytes, wrapped: false })),
          );
          return { message: `${request.binaryIds.length} binaries to publish, ${request.removePlatforms.length} platforms to remove` };
        },
      },
      {
        key: 'TRANSFER_BINARIES',
        run: async (context) => {
          const list = artifacts(context);
          if (list.length === 0) return { skipped: 'No binaries to publish; this publish only removes platforms' };
          let bytes = 0;
          let sent = 0;
          for (const artifact of list) {
            if (await this.transfer(context.runtime, this.binaries.pathOf(artifact.binary), artifact.sha256, artifact.sizeBytes, context.restorePoint)) {
              sent += 1;
              bytes += artifact.sizeBytes;
            }
          }
          return {
            message: `Transferred ${sent} of ${list.length} binaries (${formatBytes(bytes)}), each verified by SHA-256${sent < list.length ? '; the runtime held the others' : ''}`,
          };
        },
      },
      {
        key: 'WRAP',
        run: async (context) => {
          if (request.signAction !== 'WRAP_AND_SIGN') return { skipped: 'SIGN_ONLY: binaries are delivered as uploaded' };
          const list = artifacts(context);
          if (list.length === 0) return { skipped: 'No binaries to wrap' };
          for (const artifact of list) {
            const wrapped = await this.artifactWorkers.wrapArtifact(
              this.store,
              this.binaries.pathOf(artifact.binary),
              {
                wrapper: 'shipyard',
                version: 1,
                app: name,
                platform: artifact.binary.platform,
                appVersion: artifact.binary.version,
                originalFileName: artifact.binary.fileName,
                originalSha256: artifact.binary.sha256,
                wrappedAt: new Date().toISOString(),
              },
              context.signal,
            );
            // The wrapped artifact lives in the runtime; Shipyard's copy was only for sending.
            try {
              await this.transfer(context.runtime, wrapped.path, wrapped.sha256, wrapped.sizeBytes, context.restorePoint);
            } finally {
              await this.store.discard(wrapped);
            }
            Object.assign(artifact, { sha256: wrapped.sha256, sizeBytes: wrapped.sizeBytes, wrapped: true });
          }
          return { message: `Wrapped ${list.length} binaries` };
        },
      },
      {
        key: 'SIGN',
        run: async (context) => {
          const list = artifacts(context);
          if (list.length === 0) return { skipped: 'No artifacts to sign' };
          for (const artifact of list) artifact.signature = await this.signing.sign(job.environmentId, artifact.sha256);
          return { message: `Signed ${list.length} artifacts with the environment's Ed25519 key` };
        },
      },
      {
        key: 'REGISTER_VERSIONS',
        run: async (context) => {
          const list = artifacts(context);
          await context.runtime.run(context.key('app'), {
            type: 'upsertManagementApp',
            ...which,
            appName: app.name,
            signAction: request.signAction,
            description: app.description,
            workflowState: request.workflowState,
          });
          await context.runtime.run(context.key('versions'), {
            type: 'addVersions',
            ...which,
            versions: list.map((artifact) => ({
              platform: artifact.binary.platform,
              version: artifact.binary.version,
              versionKey: artifact.binary.versionKey,
              binaryId: artifact.binary.id,
              bundleId: artifact.binary.bundleId,
              artifactSha256: artifact.sha256,
              signature: artifact.signature ?? '',
              wrapped: artifact.wrapped,
              publishJobId: job.id,
            })),
          });
          return {
            message:
              list.length === 0
                ? `${name}: description refreshed, no new versions`
                : `${name}: ${list.map((artifact) => `${artifact.binary.platform} ${artifact.binary.version}`).join(', ')}`,
          };
        },
      },
      {
        key: 'REMOVE_VERSIONS',
        run: async (context) => {
          if (request.removePlatforms.length === 0) return { skipped: 'No platforms to remove' };
          const { removed } = await context.runtime.run(context.key('remove'), { type: 'removePlatforms', ...which, platforms: request.removePlatforms });
          if (removed === 0) return { skipped: `Nothing to remove: ${name} holds no versions of ${request.removePlatforms.join(', ')}` };
          return { message: `Removed ${removed} versions of ${request.removePlatforms.join(', ')}` };
        },
      },
      {
        key: 'APPLY_TARGETS',
        run: async (context) => {
          if (!request.targets) return { message: `Kept ${(await current(context))?.targets.length ?? 0} targets` };
          const targets = request.targets;
          await context.runtime.run(context.key('targets'), { type: 'replaceTargets', ...which, ...targets });
          return { message: `Targets replaced: ${targets.userIds.length} users, ${targets.groupIds.length} groups` };
        },
      },
      {
        key: 'SET_WORKFLOW_STATE',
        run: async (context) => {
          await context.runtime.run(context.key('state'), { type: 'setWorkflowState', ...which, workflowState: request.workflowState });
          return { message: request.workflowState };
        },
      },
      {
        key: 'NOTIFY_TARGETS',
        run: async (context) => {
          if (request.workflowState === 'DRAFT') return { skipped: 'A DRAFT app is not in the Enterprise Store' };
          const list = artifacts(context);
          const message =
            list.length === 0
              ? `${name} was updated in the Enterprise Store`
              : `${name} ${list.map((artifact) => `${artifact.binary.version} (${artifact.binary.platform})`).join(', ')} is available in the Enterprise Store`;
          const userIds = await this.management.recipients(principal, (await current(context))?.targets ?? []);
          const tokens = await this.storeTokens(job.environmentId, userIds);
          const storePaths = [...tokens].map(([userId, token]) => ({ userId, path: storePath(token) }));
          const { notified } = await context.runtime.run(context.key('notify'), { type: 'notify', ...which, jobId: job.id, message, userIds, storePaths });
          return { message: `Notified ${notified} users` };
        },
      },
    ];
  }
}

/** The highest version per platform that a Management app holds (R30). */
function highestVersions(app: ManagementApp | undefined): Map<ClientPlatform, ManagementApp['versions'][number]> {
  const highest = new Map<ClientPlatform, ManagementApp['versions'][number]>();
  for (const version of app?.versions ?? []) {
    const held = highest.get(version.platform);
    if (!held || compareVersions(version.version, held.version) > 0) highest.set(version.platform, version);
  }
  return highest;
}


/** Jobs act as the user who asked, inside the job's account. */
export const principalOf = (job: PublishJob): Principal => ({ accountId: job.accountId, userId: job.requestedBy, role: 'ADMIN', tokenId: 0 });

const versionKeyOrNull = (version: string): string | null => {
  try {
    return versionKey(version);
  } catch {
    return null;
  }
};

