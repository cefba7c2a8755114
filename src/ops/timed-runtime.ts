import type { Runtime } from '../runtime/runtime.js';
import type { Metrics } from './metrics.js';

/** A runtime whose every call is timed in the runtime-call histogram (R61), by call name. */
export function timedRuntime(runtime: Runtime, metrics: Metrics): Runtime {
  return {
    location: runtime.location,
    info: () => metrics.timeRuntimeCall('info', () => runtime.info()),
    management: () => metrics.timeRuntimeCall('management', () => runtime.management()),
    services: () => metrics.timeRuntimeCall('services', () => runtime.services()),
    notifications: (ids) => metrics.timeRuntimeCall('notifications', () => runtime.notifications(ids)),
    hasBlob: (sha256) => metrics.timeRuntimeCall('hasBlob', () => runtime.hasBlob(sha256)),
    putBlob: (blob, restorePoint) => metrics.timeRuntimeCall('putBlob', () => runtime.putBlob(blob, restorePoint)),
    run: (key, command) => metrics.timeRuntimeCall(command.type, () => runtime.run(key, command)),
  };
}
