import type { Config } from '../src/config.js';
import type { Role } from '../src/domain/vocabulary.js';
import { noUserErrors, startServer, type Client, type TestServer } from './kit.js';
import { binary, probe, PUBLISH_NATIVE, publishWorld, runtimeEnvironment, type PublishWorld } from './publish-kit.js';

/**
 * The test world: a real server (test/kit.ts) and people acting in it, so that a suite says what it
 * needs in a line (`await w.admin.app({ name: 'Banking' })`) and keeps its mutations for what it
 * tests. Every helper goes through the public API and fails the test on a userError, so setup
 * that stops working is never mistaken for the behaviour under test.
 */

/** The codes of a payload's userErrors, in order. */
export const codes = (payload: { userErrors: { code: string }[] }): string[] => payload.userErrors.map((error) => error.code);

/**
 * Runs `check` until it neither throws nor answers `false`, and answers what it answered; after
 * `timeoutMs` the last failure is the test's. For state other work reaches in its own time: the
 * check holds the test's own assertion (`eventually(async () => expect(await x()).toBe(y))`) or
 * finds something (`eventually(async () => list.find(...) ?? false)`).
 */
export async function eventually<T>(check: () => Promise<T> | T, { timeoutMs = 5_000, intervalMs = 20 } = {}): Promise<Exclude<T, false>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let failure: unknown;
    try {
      const answer = await check();
      if (answer !== false) return answer as Exclude<T, false>;
      failure = new Error(`the check still answered false after ${timeoutMs} ms`);
    } catch (error) {
      failure = error;
    }
    if (Date.now() >= deadline) throw failure;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

let names = 0;
/** A name no other object of this test file has. */
const fresh = (prefix: string) => `${prefix}${(names += 1)}`;

type Input = Record<string, unknown>;

/** What a native publish to `target` asks by default: APP_STORE, DRAFT, nothing yet to publish. */
export const nativeDraft = (target: { appId?: string | undefined; environmentId?: string | undefined }, input: Input = {}): Input => ({
  appId: target.appId,
  environmentId: target.environmentId,
  option: 'APP_STORE',
  workflowState: 'DRAFT',
  ...input,
});

/** Someone with an API token, who sets things up through the API as a user would. */
export class Actor {
  constructor(readonly client: Client) {}

  get token(): string | null {
    return this.client.token;
  }

  /** Creates an app (a fresh name unless given); answers its id. */
  async app(input: Input = {}): Promise<string> {
    const data = await this.client.request(`mutation ($input: CreateAppInput!) { createApp(input: $input) { app { id } userErrors { code message } } }`, {
      input: { name: fresh('App'), ...input },
    });
    return noUserErrors(data.createApp).app.id;
  }

  /** Creates an environment (a fresh name unless given) where the input puts it; answers its id. */
  async environment(input: Input = {}): Promise<string> {
    const data = await this.client.request(
      `mutation ($input: CreateEnvironmentInput!) { createEnvironment(input: $input) { environment { id } userErrors { code message } } }`,
      { input: { name: fresh('env-'), ...input } },
    );
    return noUserErrors(data.createEnvironment).environment.id;
  }

  /**
   * Creates an environment on the runtime of the enclosing `onRuntime` block (test/publish-kit.ts)
   * and probes it, as TEST CONNECTION does, unless the input sets its URL or versions by hand.
   */
  async runtimeEnvironment(input: Input = {}): Promise<string> {
    const byHand = 'url' in input || 'runtimeVersions' in input;
    const id = await this.environment(byHand ? input : { ...runtimeEnvironment(), ...input });
    if (!byHand) await probe(this.client, id);
    return id;
  }

  /** Creates a directory user in the environment; answers its id. */
  async directoryUser(environmentId: string, input: Input = {}): Promise<string> {
    const username = fresh('user');
    const data = await this.client.request(
      `mutation ($input: CreateDirectoryUserInput!) { createDirectoryUser(input: $input) { user { id } userErrors { code message } } }`,
      { input: { environmentId, username, displayName: username, source: 'LOCAL', ...input } },
    );
    return noUserErrors(data.createDirectoryUser).user.id;
  }

  /** Creates a directory group in the environment; answers its id. */
  async directoryGroup(environmentId: string, input: Input = {}): Promise<string> {
    const data = await this.client.request(
      `mutation ($input: CreateDirectoryGroupInput!) { createDirectoryGroup(input: $input) { group { id } userErrors { code message } } }`,
      { input: { environmentId, name: fresh('Group'), source: 'LOCAL', ...input } },
    );
    return noUserErrors(data.createDirectoryGroup).group.id;
  }

  /** Creates an API token of the caller's; answers its id. */
  async apiToken(name = 'token'): Promise<string> {
    const data = await this.client.request(`mutation ($input: CreateApiTokenInput!) { createApiToken(input: $input) { apiToken { id } userErrors { code message } } }`, {
      input: { name },
    });
    return noUserErrors(data.createApiToken).apiToken.id;
  }

  /** Uploads a valid binary of the platform and version to the app; answers its id. */
  binary(appId: string, platform: string, version: string): Promise<string> {
    return binary(this.client, appId, platform, version);
  }

  /** An app and a managed environment with a directory (test/publish-kit.ts), ready to publish to. */
  publishWorld(options: { environment?: Input } = {}): Promise<PublishWorld> {
    return publishWorld(this.client, options);
  }

  /** Asks for a native publish, waiting for its job unless the input says otherwise; answers the payload. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test documents are untyped; assertions check the shapes
  async publishNative(input: Input): Promise<any> {
    return (await this.client.request(PUBLISH_NATIVE, { input: { sync: true, ...input } })).publishNativeClient;
  }
}

/** A running server with its first account's admin; other people join through `as` and `otherAccount`. */
export class World {
  readonly admin: Actor;

  private constructor(readonly t: TestServer) {
    this.admin = new Actor(t.admin);
  }

  static async start(overrides: Partial<Config> = {}): Promise<World> {
    return new World(await startServer(overrides));
  }

  /** A fresh user of that role in the first account. */
  async as(role: Role): Promise<Actor> {
    return new Actor(await this.t.as(role));
  }

  /** The admin of a new account. */
  async otherAccount(name?: string): Promise<Actor> {
    return new Actor(await this.t.otherAccount(name));
  }

  stop(): Promise<void> {
    return this.t.stop();
  }
}
