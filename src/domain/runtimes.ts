import type { Logger } from '../logger.js';
import type { RuntimeHost } from '../runtime/embedded/index.js';
import type { Runtime } from '../runtime/runtime.js';
import type { ManagementApp, ServicesState } from '../runtime/types.js';
import type { Environment } from './environments.js';

/** Reaches the runtime at a URL with its token (the HTTP client); tests and the server supply it. */
export type RemoteRuntimeFactory = (url: string, token: string | null, environmentId: number) => Runtime;

const emptyServices = (): ServicesState => ({ identityServices: [], appServices: [], webClients: [] });

/**
 * Which runtime serves an environment (R45): the embedded one when it has no URL, else the
 * runtime server at its URL. Reads of many environments ask the embedded runtime once.
 */
export class Runtimes {
  constructor(
    readonly embedded: RuntimeHost,
    private readonly remote: RemoteRuntimeFactory,
    private readonly logger: Logger,
  ) {}

  of(environment: Pick<Environment, 'id' | 'url' | 'runtimeToken' | 'managementEnabled'>): Runtime {
    if (environment.url === null) return this.embedded.environment(environment.id, () => environment.managementEnabled);
    return this.remote(environment.url, environment.runtimeToken, environment.id);
  }

  /** Drops the embedded runtime's data of a deleted environment (R13); a runtime server keeps its own. */
  async forget(environment: Pick<Environment, 'id' | 'url'>): Promise<void> {
    if (environment.url === null) await this.embedded.forget(environment.id);
  }

  /**
   * Management apps of many environments, for views: a runtime that did not answer its last
   * probe, or fails now, shows nothing rather than failing the whole answer.
   */
  managementOf(environments: readonly Environment[]): Promise<ManagementApp[][]> {
    return this.gather(environments, (ids) => this.embedded.reads.managementOf(ids), (runtime) => runtime.management(), () => []);
  }

  servicesOf(environments: readonly Environment[]): Promise<ServicesState[]> {
    return this.gather(environments, (ids) => this.embedded.reads.servicesOf(ids), (runtime) => runtime.services(), emptyServices);
  }

  private async gather<T>(
    environments: readonly Environment[],
    embedded: (ids: number[]) => Promise<T[]>,
    remote: (runtime: Runtime) => Promise<T>,
    empty: () => T,
  ): Promise<T[]> {
    const local = environments.filter((environment) => environment.url === null);
    const localAnswers = local.length > 0 ? await embedded(local.map((environment) => environment.id)) : [];
    const byId = new Map(local.map((environment, index) => [environment.id, localAnswers[index] ?? empty()]));
    await Promise.all(
      environments
        .filter((environment) => environment.url !== null)
        .map(async (environment) => {
          if (!environment.runtimeAnswered) return byId.set(environment.id, empty());
          try {
            byId.set(environment.id, await remote(this.of(environment)));
          } catch (error) {
            this.logger.warn({ err: error, environmentId: environment.id }, 'runtime read failed');
            byId.set(environment.id, empty());
          }
        }),
    );
    return environments.map((environment) => byId.get(environment.id) ?? empty());
  }
}
