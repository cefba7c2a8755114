import { appConfigPath, storePath, webClientPath } from '../runtime/serve/paths.js';
import type { Environment } from './environments.js';

/**
 * Every absolute link Shipyard answers about what runtimes serve (R53-R56), from one origin: the
 * embedded runtime's pages live at `<origin>/runtime/<environment name>/`, a runtime server's at
 * the environment's URL.
 */
export class PublicLinks {
  constructor(readonly origin: string) {}

  runtimeBase(environment: Pick<Environment, 'name' | 'url'>): string {
    return environment.url ?? `${this.origin}/runtime/${encodeURIComponent(environment.name)}`;
  }

  webClient(environment: Pick<Environment, 'name' | 'url'>, appName: string): string {
    return `${this.runtimeBase(environment)}${webClientPath(appName)}`;
  }

  /** A store link: from its token when it is made, from the stored path in a notification. */
  store(environment: Pick<Environment, 'name' | 'url'>, token: string): string {
    return this.onRuntime(environment, storePath(token));
  }

  onRuntime(environment: Pick<Environment, 'name' | 'url'>, path: string): string {
    return `${this.runtimeBase(environment)}${path}`;
  }

  appConfig(environment: Pick<Environment, 'name' | 'url'>, appName: string): string {
    return `${this.runtimeBase(environment)}${appConfigPath(appName)}`;
  }
}
