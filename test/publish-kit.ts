import { afterAll, beforeAll } from 'vitest';
import { apk, appx, ipa, war } from './fixtures.js';
import { multipartUpload, noUserErrors, type Client } from './kit.js';
import { startRuntimeProcess, type RuntimeProcess } from './runtime-process.js';

/** The runtimes every publish suite runs against (R45): in process, and a runtime server in a child process. */
export const RUNTIME_KINDS = ['embedded', 'remote'] as const;
export type RuntimeKind = (typeof RUNTIME_KINDS)[number];

let runtimeServer: RuntimeProcess | null = null;
let environmentsOnRuntime = 0;

/**
 * Inside a describe: new environments of publishWorld and the like are embedded, or live on one
 * runtime server started for the block, each under its own path.
 */
export function onRuntime(kind: RuntimeKind): void {
  beforeAll(async () => {
    if (kind === 'remote') runtimeServer = await startRuntimeProcess();
  }, 60_000);
  afterAll(async () => {
    await runtimeServer?.stop();
    runtimeServer = null;
  });
}

/** The URL and token of a new environment on the current runtime server; nothing for the embedded one. */
export function runtimeEnvironment(): Record<string, unknown> {
  if (!runtimeServer) return {};
  environmentsOnRuntime += 1;
  return { url: `${runtimeServer.url}/env${environmentsOnRuntime}-${process.pid}`, runtimeToken: runtimeServer.token };
}

/** A remote environment is UNKNOWN until probed: probe it, as TEST CONNECTION does. */
export async function probe(admin: Client, environmentId: string): Promise<void> {
  if (!runtimeServer) return;
  const { checkEnvironment } = await admin.request(
    `mutation ($id: ID!) { checkEnvironment(input: { id: $id }) { environment { status statusReason } } }`,
    { id: environmentId },
  );
  if (checkEnvironment.environment.status !== 'AVAILABLE') throw new Error(`runtime did not answer: ${checkEnvironment.environment.statusReason}`);
}

export const JOB_FIELDS = `id trackingId state progress kind action sync warnings
  stages { key state message startedAt finishedAt }
  error { code message stage }
  app { id } environment { id status }`;

export const PUBLISH_NATIVE = `mutation ($input: PublishNativeClientInput!) {
  publishNativeClient(input: $input) { job { ${JOB_FIELDS} } userErrors { code message field } }
}`;

export const JOB = `query ($id: ID!) { node(id: $id) { ... on PublishJob { ${JOB_FIELDS} } } }`;

export const MANAGEMENT = `query ($id: ID!) { node(id: $id) { ... on Environment {
  signingPublicKey
  managementApps {
    id name preview workflowState signAction description
    versions { platform version wrapped artifactSha256 signature binary { id } }
    targets { __typename ... on DirectoryUser { username } ... on DirectoryGroup { name } }
  }
} } }`;

export interface PublishWorld {
  appId: string;
  appName: string;
  environmentId: string;
  users: Record<'ann' | 'bea' | 'cal' | 'dee', string>;
  groups: Record<'Team' | 'Cloudy' | 'Mixed', string>;
}

let worlds = 0;

/** An app, a managed environment with a directory, ready to publish to. */
export async function publishWorld(admin: Client, options: { environment?: Record<string, unknown> } = {}): Promise<PublishWorld> {
  worlds += 1;
  const appName = `Native${worlds}`;
  const created = await admin.request(
    `mutation ($app: CreateAppInput!, $env: CreateEnvironmentInput!) {
      createApp(input: $app) { app { id } userErrors { message } }
      createEnvironment(input: $env) { environment { id } userErrors { message } }
    }`,
    {
      app: { name: appName, description: 'Version one' },
      env: {
        name: `mgmt-${worlds}`,
        managementEnabled: true,
        // Hand-set versions and URLs are the embedded runtime's business.
        ...(options.environment && ('url' in options.environment || 'runtimeVersions' in options.environment) ? {} : runtimeEnvironment()),
        ...options.environment,
      },
    },
  );
  const environmentId = created.createEnvironment.environment.id;
  if (!options.environment || !('url' in options.environment || 'runtimeVersions' in options.environment)) await probe(admin, environmentId);
  const users = {} as PublishWorld['users'];
  for (const [username, source] of [['ann', 'LOCAL'], ['bea', 'ACTIVE_DIRECTORY'], ['cal', 'SAP'], ['dee', 'CLOUD']] as const) {
    const user = await admin.request(
      `mutation ($input: CreateDirectoryUserInput!) { createDirectoryUser(input: $input) { user { id } } }`,
      { input: { environmentId, username, displayName: username, source } },
    );
    users[username] = user.createDirectoryUser.user.id;
  }
  const groups = {} as PublishWorld['groups'];
  for (const [name, source, members] of [
    ['Team', 'LOCAL', ['bea', 'cal']],
    ['Cloudy', 'CLOUD', ['dee']],
    ['Mixed', 'LOCAL', ['ann', 'dee']],
  ] as const) {
    const group = await admin.request(
      `mutation ($input: CreateDirectoryGroupInput!) { createDirectoryGroup(input: $input) { group { id } } }`,
      { input: { environmentId, name, source, memberIds: members.map((member) => users[member]) } },
    );
    groups[name] = group.createDirectoryGroup.group.id;
  }
  return { appId: created.createApp.app.id, appName, environmentId, users, groups };
}

/** Uploads a binary of the platform and version; answers its id. */
export async function binary(client: Client, appId: string, platform: string, version: string): Promise<string> {
  const files: Record<string, () => Promise<{ name: string; content: Buffer }>> = {
    IOS_PHONE: async () => ({ name: 'app.ipa', content: await ipa({ CFBundleShortVersionString: version }) }),
    IOS_TABLET: async () => ({ name: 'app.ipa', content: await ipa({ CFBundleShortVersionString: version }) }),
    ANDROID_PHONE: async () => ({ name: 'app.apk', content: await apk({ versionName: version }) }),
    ANDROID_TABLET: async () => ({ name: 'app.apk', content: await apk({ versionName: version }) }),
    WINDOWS: async () => ({ name: 'app.appx', content: await appx({ version }) }),
    WEB: async () => ({ name: 'app.war', content: await war() }),
  };
  const file = await (files[platform] as () => Promise<{ name: string; content: Buffer }>)();
  const response = await multipartUpload(client, { appId, platform, version }, file);
  const payload = (response.body.data as { uploadClientBinary: { binary: { id: string } | null; userErrors: unknown[] } }).uploadClientBinary;
  return noUserErrors(payload).binary?.id as string;
}

export const waitForJob = async (client: Client, id: string, done: (job: { state: string }) => boolean = (job) => ['SUCCEEDED', 'FAILED', 'CANCELED'].includes(job.state)) => {
  for (let i = 0; i < 500; i += 1) {
    const { node } = await client.request(JOB, { id });
    if (done(node)) return node;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`job ${id} did not get there`);
};
