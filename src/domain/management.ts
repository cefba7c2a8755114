import type { ManagementApp, StoreNotification } from '../runtime/types.js';
import type { DirectoryService } from './directory.js';
import type { Environment, EnvironmentService } from './environments.js';
import type { Principal } from './principal.js';
import type { Runtimes } from './runtimes.js';
import { compareVersions } from './validation.js';
import type { ClientPlatform } from './vocabulary.js';

export type { ManagementApp, ManagementTarget, ManagementVersion, SignAction, StoreNotification, WorkflowState } from '../runtime/types.js';

/** `<AppName>` or `<AppName>_preview` (R28). */
export const managementAppName = (appName: string, preview: boolean): string => (preview ? `${appName}_preview` : appName);

/** The highest version per platform that a Management app holds (R30). */
export function highestVersions(app: ManagementApp | undefined): Map<ClientPlatform, ManagementApp['versions'][number]> {
  const highest = new Map<ClientPlatform, ManagementApp['versions'][number]>();
  for (const version of app?.versions ?? []) {
    const held = highest.get(version.platform);
    if (!held || compareVersions(version.version, held.version) > 0) highest.set(version.platform, version);
  }
  return highest;
}

/** A Management app or notification is known by its environment and the runtime's own id. */
export interface RuntimeObjectRef {
  environmentId: number;
  id: number;
}

/**
 * Management as Shipyard shows it (R26-R34): read from each environment's runtime, scoped to the
 * principal's account; the Enterprise Store worked out with the environment's directory.
 */
export class ManagementReads {
  constructor(
    private readonly runtimes: Runtimes,
    private readonly environments: EnvironmentService,
    private readonly directory: DirectoryService,
  ) {}

  async appsOfEnvironments(principal: Principal, environmentIds: readonly number[]): Promise<ManagementApp[][]> {
    const environments = await this.environments.byIds(principal, environmentIds);
    const present = environments.filter((environment): environment is Environment => environment !== null);
    const lists = await this.runtimes.managementOf(present);
    return environments.map((environment) => (environment ? (lists[present.indexOf(environment)] ?? []) : []));
  }

  async byRefs(principal: Principal, refs: readonly RuntimeObjectRef[]): Promise<(ManagementApp | null)[]> {
    const environmentIds = [...new Set(refs.map((ref) => ref.environmentId))];
    const lists = await this.appsOfEnvironments(principal, environmentIds);
    return refs.map((ref) => lists[environmentIds.indexOf(ref.environmentId)]?.find((app) => app.id === ref.id) ?? null);
  }

  /** As the runtime last answered; nothing when it does not answer now (VALIDATE checks again). */
  async find(environment: Environment, appId: number, preview: boolean): Promise<ManagementApp | undefined> {
    const [apps = []] = await this.runtimes.managementOf([environment]);
    return apps.find((app) => app.appId === appId && app.preview === preview);
  }

  /**
   * ACTIVE Management apps of the environment that target this directory user or group and
   * nothing else: removing it from the directory would leave them in the Enterprise Store for no one.
   */
  async activeAppsOnlyTargeting(principal: Principal, environmentId: number, target: { userId: number } | { groupId: number }): Promise<ManagementApp[]> {
    const [apps = []] = await this.appsOfEnvironments(principal, [environmentId]);
    const active = apps.filter((app) => app.workflowState === 'ACTIVE');
    // The runtime keeps targets by id; one whose user or group was deleted since reaches no one.
    const targets = active.flatMap((app) => app.targets);
    const userIds = [...new Set(targets.flatMap((one) => (one.userId === null ? [] : [one.userId])))];
    const groupIds = [...new Set(targets.flatMap((one) => (one.groupId === null ? [] : [one.groupId])))];
    const users = new Set((await this.directory.usersByIds(principal, userIds)).flatMap((user) => (user ? [user.id] : [])));
    const groups = new Set((await this.directory.groupsByIds(principal, groupIds)).flatMap((group) => (group ? [group.id] : [])));
    const live = (one: ManagementApp['targets'][number]) => (one.userId !== null ? users.has(one.userId) : one.groupId !== null && groups.has(one.groupId));
    const isIt = (one: ManagementApp['targets'][number]) => ('userId' in target ? one.userId === target.userId : one.groupId === target.groupId);
    return active.filter((app) => {
      const reaching = app.targets.filter(live);
      return reaching.length > 0 && reaching.every(isIt);
    });
  }

  /** R33: ACTIVE apps of the environment that target the user directly or through a group. */
  async enterpriseStore(principal: Principal, environmentId: number, directoryUserId: number): Promise<ManagementApp[]> {
    const [apps = []] = await this.appsOfEnvironments(principal, [environmentId]);
    const groupIds = new Set(((await this.directory.groupsOfUsers([directoryUserId]))[0] ?? []).map((group) => group.id));
    return apps.filter(
      (app) =>
        app.workflowState === 'ACTIVE' &&
        app.targets.some((target) => target.userId === directoryUserId || (target.groupId !== null && groupIds.has(target.groupId))),
    );
  }

  /** Notifications of directory users (each of one environment), newest first. */
  async notificationsOf(principal: Principal, users: readonly { id: number; environmentId: number }[]): Promise<StoreNotification[][]> {
    const environmentIds = [...new Set(users.map((user) => user.environmentId))];
    const environments = await this.environments.byIds(principal, environmentIds);
    const answers = await Promise.all(
      environments.map(async (environment) => {
        if (!environment || (environment.url !== null && !environment.runtimeAnswered)) return [];
        const ids = users.filter((user) => user.environmentId === environment.id).map((user) => user.id);
        return this.runtimes
          .of(environment)
          .notifications(ids)
          .catch(() => []);
      }),
    );
    const all = answers.flat();
    return users.map((user) => all.filter((notification) => notification.environmentId === user.environmentId && notification.directoryUserId === user.id));
  }

  async notificationsByRefs(principal: Principal, refs: readonly RuntimeObjectRef[], userIdsOf: (environmentId: number) => Promise<number[]>): Promise<(StoreNotification | null)[]> {
    const environmentIds = [...new Set(refs.map((ref) => ref.environmentId))];
    const lists = await Promise.all(environmentIds.map((environmentId) => userIdsOf(environmentId)));
    const users = environmentIds.flatMap((environmentId, index) => (lists[index] ?? []).map((id) => ({ id, environmentId })));
    const all = (await this.notificationsOf(principal, users)).flat();
    return refs.map((ref) => all.find((notification) => notification.environmentId === ref.environmentId && notification.id === ref.id) ?? null);
  }

  /** R20: the account's environments whose Management still serves this binary. */
  async environmentsServing(principal: Principal, binaryId: number): Promise<string[]> {
    const environments = (await this.environments.all(principal)).filter((environment) => environment.managementEnabled || environment.url !== null);
    const lists = await this.runtimes.managementOf(environments);
    return environments
      .filter((_environment, index) => (lists[index] ?? []).some((app) => app.versions.some((version) => version.binaryId === binaryId)))
      .map((environment) => environment.name)
      .sort();
  }

  /** R34: who a notification reaches: targeted users and members of targeted groups, each once, never CLOUD users. */
  async recipients(principal: Principal, targets: ManagementApp['targets']): Promise<number[]> {
    const direct = targets.map((target) => target.userId).filter((id): id is number => id !== null);
    const groupIds = targets.map((target) => target.groupId).filter((id): id is number => id !== null);
    const members = (await this.directory.membersOfGroups(groupIds)).flat().map((user) => user.id);
    const candidates = [...new Set([...direct, ...members])];
    return (await this.directory
      .usersByIds(principal, candidates))
      .filter((user) => user !== null && user.source !== 'CLOUD')
      .map((user) => user?.id as number)
      .sort((a, b) => a - b);
  }
}

/** The Management app's own number in GraphQL ids: environment and runtime id together. */
export const refKey = (ref: RuntimeObjectRef): string => `${ref.environmentId}.${ref.id}`;

export const parseRefKey = (key: string): RuntimeObjectRef | null => {
  const match = /^([1-9]\d{0,15})\.([1-9]\d{0,15})$/.exec(key);
  return match ? { environmentId: Number(match[1]), id: Number(match[2]) } : null;
};
