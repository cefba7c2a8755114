import type { Principal, Role } from './principal.js';
import { userError, type UserError } from './result.js';

/**
 * Who may do what (R7), in one place: every mutation's service asks `denial` before it acts, and
 * the schema's `viewerCan…` fields ask `can`, so a button a console shows is a call that succeeds.
 * VIEWERs read and subscribe; nothing here is needed for that.
 */
export interface ActionResources {
  /** Create, update and delete apps. */
  manageApps: undefined;
  /** Create, update and delete environments. */
  manageEnvironments: undefined;
  /** Probe an environment's runtime now (TEST CONNECTION). */
  checkEnvironment: undefined;
  /** Create, update and delete an environment's directory users and groups. */
  manageDirectory: undefined;
  /** Add users to the account, change their role, deactivate them. */
  manageUsers: undefined;
  /** Upload, edit and delete client binaries. */
  manageBinaries: undefined;
  /** Publish an app's services and web client, and unpublish them. */
  publishServicesAndWeb: undefined;
  /** Publish native binaries to a Management runtime: previews for MEMBERs, the App Store for ADMINs. */
  publishNative: { option: 'PREVIEW' | 'APP_STORE' };
  /** Unpublish an app from an environment. */
  unpublish: { kind: 'NATIVE_CLIENT' | 'SERVICES_AND_WEB' };
  /** Take one version out of a Management app: a preview's are a MEMBER's, production ones an ADMIN's. */
  removeManagementVersion: { preview: boolean };
  /** Cancel a publish job: MEMBERs their own, ADMINs anyone's. */
  cancelJob: { requestedBy: number };
  /** End a job whose rollback waits for an unreachable runtime, without it (R50). */
  abandonRollback: undefined;
  /** Create and revoke personal Enterprise Store links of directory users. */
  manageStoreInvitations: undefined;
  /** See an app's secret in an environment, and replace it. */
  manageAppSecrets: undefined;
  /** Create or revoke API tokens of a user: anyone their own, ADMINs anyone's. */
  manageTokens: { userId: number };
  /** See a user's API tokens: anyone their own, ADMINs anyone's. */
  readTokens: { userId: number };
}

export type Action = keyof ActionResources;

/** The resource argument, present only for actions whose answer depends on one. */
type ResourceArgs<A extends Action> = ActionResources[A] extends undefined ? [] : [ActionResources[A]];

interface Rule<R> {
  allows(principal: Principal, resource: R): boolean;
  /** What the FORBIDDEN userError says. */
  message(resource: R): string;
  /** The input field the refusal is about, where one is. */
  field?: string[];
}

const rank: Record<Role, number> = { VIEWER: 0, MEMBER: 1, ADMIN: 2 };
/** Roles are ordered: an ADMIN can do what a MEMBER can, a MEMBER what a VIEWER can. */
const atLeast = (principal: Principal, role: Role): boolean => rank[principal.role] >= rank[role];

const least = (role: Role, what: string): Rule<undefined> => ({
  allows: (principal) => atLeast(principal, role),
  message: () => `${what} needs the ${role} role`,
});

const rules: { [A in Action]: Rule<ActionResources[A]> } = {
  manageApps: least('ADMIN', 'Managing apps'),
  manageEnvironments: least('ADMIN', 'Managing environments'),
  checkEnvironment: least('MEMBER', 'Checking an environment'),
  manageDirectory: least('ADMIN', 'Managing the directory'),
  manageUsers: least('ADMIN', 'Managing users'),
  manageBinaries: least('MEMBER', 'Uploading, editing and deleting binaries'),
  publishServicesAndWeb: least('MEMBER', 'Publishing services and web'),
  publishNative: {
    allows: (principal, { option }) => atLeast(principal, option === 'APP_STORE' ? 'ADMIN' : 'MEMBER'),
    message: ({ option }) => (option === 'APP_STORE' ? 'Publishing to the App Store needs the ADMIN role' : 'Publishing a preview needs the MEMBER role'),
    field: ['input', 'option'],
  },
  unpublish: {
    // Management apps (production among them) are an ADMIN's; services and web a MEMBER's.
    allows: (principal, { kind }) => atLeast(principal, kind === 'NATIVE_CLIENT' ? 'ADMIN' : 'MEMBER'),
    message: ({ kind }) => (kind === 'NATIVE_CLIENT' ? 'Unpublishing a native app needs the ADMIN role' : 'Unpublishing services and web needs the MEMBER role'),
    field: ['input', 'kind'],
  },
  removeManagementVersion: {
    allows: (principal, { preview }) => atLeast(principal, preview ? 'MEMBER' : 'ADMIN'),
    message: ({ preview }) =>
      preview ? "Removing a preview's version needs the MEMBER role" : 'Removing a production version needs the ADMIN role',
    field: ['input', 'managementAppId'],
  },
  cancelJob: {
    allows: (principal, job) => atLeast(principal, job.requestedBy === principal.userId ? 'MEMBER' : 'ADMIN'),
    message: () => "Only an ADMIN can cancel other users' jobs; a MEMBER cancels their own",
    field: ['input', 'jobId'],
  },
  abandonRollback: { ...least('ADMIN', 'Abandoning a rollback'), field: ['input', 'abandonRollback'] },
  manageStoreInvitations: least('ADMIN', 'Managing store links'),
  manageAppSecrets: least('MEMBER', "Seeing and replacing an app's secret"),
  manageTokens: {
    allows: (principal, { userId }) => userId === principal.userId || atLeast(principal, 'ADMIN'),
    message: () => "Only an ADMIN can create or revoke other users' tokens",
  },
  readTokens: {
    allows: (principal, { userId }) => userId === principal.userId || atLeast(principal, 'ADMIN'),
    message: () => "Only an ADMIN can see other users' tokens",
  },
};

/** Whether the principal may do the action (to the resource, where the answer depends on one). */
export function can<A extends Action>(principal: Principal, action: A, ...[resource]: ResourceArgs<A>): boolean {
  const rule = rules[action] as Rule<ActionResources[A]>;
  return rule.allows(principal, resource as ActionResources[A]);
}

/**
 * The FORBIDDEN userError when the principal may not do the action, or null when it may. A
 * service returns it before changing anything.
 */
export function denial<A extends Action>(principal: Principal, action: A, ...[resource]: ResourceArgs<A>): UserError | null {
  const rule = rules[action] as Rule<ActionResources[A]>;
  if (rule.allows(principal, resource as ActionResources[A])) return null;
  return userError('FORBIDDEN', rule.message(resource as ActionResources[A]), rule.field);
}
