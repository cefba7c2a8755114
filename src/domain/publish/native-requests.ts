import type { ClientPlatform } from '../vocabulary.js';
import type { BinaryCatalogue, ClientBinary } from '../binaries/catalogue.js';
import { versionKey } from '../binaries/versions.js';
import type { DirectoryService } from '../directory.js';
import { highestVersions, managementAppName, type ManagementReads, type RuntimeObjectRef, type SignAction, type WorkflowState } from '../management.js';
import type { Principal } from '../principal.js';
import { denial } from '../policy.js';
import { fail, notFound, userError, type Result, type UserError } from '../result.js';
import { byNullableIds } from '../rows.js';
import { compareVersions } from '../validation.js';
import type { NativeRequest, PublishOption, RemoveVersionRequest } from './job-records.js';
import type { PublishJob } from './jobs.js';
import { NATIVE_STAGES, NATIVE_STAGE_TITLES } from './native-stages.js';
import type { PublishService } from './publishing.js';

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

const MAX_IDS = 1000;

/**
 * Native publish requests (R26-R35) and requests to take one version out again (R31): each is
 * checked in full before there is a job (R21), then stored as the job's request
 * (job-records.ts) for the stages in native-stages.ts to run.
 */
export class NativeRequests {
  constructor(
    private readonly publish: PublishService,
    private readonly binaries: BinaryCatalogue,
    private readonly management: ManagementReads,
    private readonly directory: DirectoryService,
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
}

const versionKeyOrNull = (version: string): string | null => {
  try {
    return versionKey(version);
  } catch {
    return null;
  }
};
