import { storePath } from '../../runtime/serve/paths.js';
import { fileBlob } from '../../runtime/embedded/index.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { BlobStore } from '../binaries/blob-store.js';
import type { BinaryCatalogue, ClientBinary } from '../binaries/catalogue.js';
import { versionKey } from '../binaries/versions.js';
import { highestVersions, managementAppName, type ManagementReads } from '../management.js';
import { compareVersions, formatBytes } from '../validation.js';
import type { ArtifactWorkers } from './artifacts.js';
import { nativeRequestOf, principalOf, requestFor, versionRemovalOf } from './job-records.js';
import { stageKeys, type PublishJob, type StageKey } from './jobs.js';
import { StageFailure, type JobPlan, type StageContext, type StageDefinition } from './runner.js';
import type { ArtifactSigning } from './signing.js';

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
export const NATIVE_STAGES: StageKey[] = stageKeys.slice(0, stageKeys.indexOf('NOTIFY_TARGETS') + 1);

interface Artifact {
  binary: ClientBinary;
  sha256: string;
  sizeBytes: number;
  wrapped: boolean;
  signature?: string;
}

/**
 * The stages native jobs run: a native publish (R35) and taking one version out of a Management
 * app (R31), each against the environment's runtime.
 */
export class NativeStagePlans {
  constructor(
    private readonly binaries: BinaryCatalogue,
    private readonly management: ManagementReads,
    private readonly store: BlobStore,
    private readonly signing: ArtifactSigning,
    private readonly appName: (appId: number) => Promise<{ name: string; description: string | null }>,
    /** R55: the live store tokens of users, so that each notification carries its user's link. */
    private readonly storeTokens: (environmentId: number, userIds: readonly number[]) => Promise<Map<number, string>>,
    private readonly artifactWorkers: ArtifactWorkers,
  ) {}

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
