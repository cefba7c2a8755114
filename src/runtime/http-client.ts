import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CommandOf, CommandResult, CommandType } from './commands.js';
import { RuntimeRefusedError, RuntimeUnreachableError } from './errors.js';
import type { BlobSource, Runtime } from './runtime.js';
import type { ManagementApp, RuntimeInfo, ServicesState, StoreNotification } from './types.js';

export interface HttpRuntimeOptions {
  /** One attempt of one call (R51). */
  callTimeoutMs: number;
  /** How long a call is tried again after connection errors, timeouts and 5xx answers (R51). */
  deadlineMs: number;
  /** `GET /v1/info` when probing: one attempt (R9's 2 s). */
  probeTimeoutMs: number;
}

export const DEFAULT_HTTP_RUNTIME_OPTIONS: HttpRuntimeOptions = { callTimeoutMs: 10_000, deadlineMs: 30_000, probeTimeoutMs: 2_000 };

/** A transfer may take longer than a call: at least this many bytes a second are expected. */
const MIN_TRANSFER_BYTES_PER_SECOND = 1024 * 1024;
const MAX_IDS_PER_READ = 500;

class RetryableAnswer extends Error {}

const isInfo = (value: unknown): value is RuntimeInfo => {
  const info = value as Partial<RuntimeInfo> | null;
  return (
    typeof info === 'object' &&
    info !== null &&
    info.runtime === 'shipyard-runtime' &&
    info.apiVersion === 1 &&
    typeof info.managementAvailable === 'boolean' &&
    ['integration', 'sync', 'messaging'].every((component) => typeof (info.versions as Record<string, unknown> | undefined)?.[component] === 'string')
  );
};

/**
 * A remote runtime over HTTP (R45-R51): bearer token on every call, timeouts, and retries with
 * exponential backoff inside a deadline for connection errors and 5xx answers; changes carry
 * their idempotency key so that a retry is safe. Objects it reads are stamped with Shipyard's
 * environment id.
 */
export class HttpRuntime implements Runtime {
  constructor(
    readonly location: string,
    private readonly token: string | null,
    private readonly environmentId: number,
    private readonly options: HttpRuntimeOptions = DEFAULT_HTTP_RUNTIME_OPTIONS,
  ) {}

  async info(): Promise<RuntimeInfo> {
    let response: Response;
    try {
      response = await fetch(`${this.location}/v1/info`, {
        headers: this.headers(),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.probeTimeoutMs),
      });
    } catch (error) {
      throw new RuntimeUnreachableError(`the runtime at ${this.location} did not answer (${describe(error)})`);
    }
    const text = await response.text().catch(() => '');
    if (response.status === 401) throw new RuntimeRefusedError('UNAUTHORIZED', 'the runtime refused the token');
    if (response.status >= 500) throw new RuntimeUnreachableError(`the runtime at ${this.location} answered ${response.status}`);
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: not a runtime
    }
    if (!response.ok || !isInfo(body)) throw new RuntimeRefusedError('NOT_A_RUNTIME', `GET /v1/info answered ${response.status} without a runtime's description`);
    return body;
  }

  async management(): Promise<ManagementApp[]> {
    const { apps } = await this.json<{ apps: ManagementApp[] }>('GET', '/v1/management');
    return apps.map((app) => ({ ...app, environmentId: this.environmentId }));
  }

  async services(): Promise<ServicesState> {
    const state = await this.json<ServicesState>('GET', '/v1/services');
    const stamp = <T extends { environmentId: number }>(rows: T[]) => rows.map((row) => ({ ...row, environmentId: this.environmentId }));
    return { identityServices: stamp(state.identityServices), appServices: stamp(state.appServices), webClients: stamp(state.webClients) };
  }

  async notifications(directoryUserIds: readonly number[]): Promise<StoreNotification[]> {
    const all: StoreNotification[] = [];
    for (let start = 0; start < directoryUserIds.length; start += MAX_IDS_PER_READ) {
      const ids = directoryUserIds.slice(start, start + MAX_IDS_PER_READ).join(',');
      const { notifications } = await this.json<{ notifications: StoreNotification[] }>('GET', `/v1/notifications?userIds=${ids}`);
      all.push(...notifications.map((notification) => ({ ...notification, environmentId: this.environmentId })));
    }
    return all.sort((a, b) => b.id - a.id);
  }

  async hasBlob(sha256: string): Promise<boolean> {
    const response = await this.call('HEAD', `/v1/blobs/${sha256}`, { accept: [200, 404] });
    return response.status === 200;
  }

  async putBlob(blob: BlobSource, restorePoint: string): Promise<void> {
    await this.call('PUT', `/v1/blobs/${blob.sha256}?restorePoint=${encodeURIComponent(restorePoint)}`, {
      body: () => Readable.toWeb(blob.open()) as ReadableStream<Uint8Array>,
      // No Content-Length: the runtime verifies what arrives by its SHA-256, whatever its length.
      headers: { 'content-type': 'application/octet-stream' },
      timeoutMs: this.options.callTimeoutMs + Math.ceil((blob.sizeBytes / MIN_TRANSFER_BYTES_PER_SECOND) * 1000),
    });
  }

  async run<T extends CommandType>(key: string, command: CommandOf<T>): Promise<CommandResult<T>> {
    return this.json<CommandResult<T>>('POST', '/v1/commands', {
      body: () => JSON.stringify(command),
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
    });
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  private async json<T>(method: string, path: string, init: Omit<CallInit, 'accept'> = {}): Promise<T> {
    const response = await this.call(method, path, init);
    return (await response.json()) as T;
  }

  /** One call, tried again on connection errors, timeouts and 5xx until the deadline (R51). */
  private async call(method: string, path: string, init: CallInit = {}): Promise<Response> {
    const deadline = Date.now() + this.options.deadlineMs;
    let delay = 100;
    let last = 'no attempt';
    for (;;) {
      try {
        const body = init.body?.();
        const response = await fetch(`${this.location}${path}`, {
          method,
          headers: this.headers(init.headers),
          redirect: 'manual',
          signal: AbortSignal.timeout(init.timeoutMs ?? this.options.callTimeoutMs),
          ...(body === undefined ? {} : { body, duplex: 'half' }),
        } as RequestInit);
        if (response.status >= 500) {
          await response.body?.cancel();
          throw new RetryableAnswer(`answered ${response.status}`);
        }
        if (response.ok || init.accept?.includes(response.status)) return response;
        throw await refusal(response);
      } catch (error) {
        if (error instanceof RuntimeRefusedError) throw error;
        last = error instanceof RetryableAnswer ? error.message : describe(error);
      }
      if (Date.now() + delay > deadline)
        throw new RuntimeUnreachableError(`the runtime at ${this.location} did not answer ${method} ${path.split('?')[0]} within ${this.options.deadlineMs} ms (${last})`);
      await sleep(delay);
      delay = Math.min(delay * 2, 2000);
    }
  }
}

interface CallInit {
  body?: () => BodyInit;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Answers other than 2xx that are not a refusal (404 for a blob it does not hold). */
  accept?: number[];
}

async function refusal(response: Response): Promise<RuntimeRefusedError> {
  if (response.status === 401) {
    await response.body?.cancel();
    return new RuntimeRefusedError('UNAUTHORIZED', 'the runtime refused the token');
  }
  const body = (await response.json().catch(() => null)) as { code?: string; message?: string } | null;
  const codes = ['SHA256_MISMATCH', 'BLOB_MISSING', 'INVALID_COMMAND', 'CONFLICT'] as const;
  const code = codes.find((known) => known === body?.code) ?? 'NOT_A_RUNTIME';
  return new RuntimeRefusedError(code, body?.message ?? `the runtime answered ${response.status}`);
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? error.message;
  }
  return String(error);
}
