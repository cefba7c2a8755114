import DataLoader from 'dataloader';
import type { Domain } from '../domain/index.js';
import type { EnvironmentStatus } from '../domain/environments.js';
import type { PublishJob, PublishStage } from '../domain/publish/jobs.js';

/**
 * Batch loaders that several fields share, built per request (so nothing is cached across
 * requests or leaks between accounts).
 */
export function createLoaders(domain: Domain) {
  return {
    stages: new DataLoader<number, PublishStage[]>(async (jobIds) => domain.jobs.stagesOf(jobIds)),
    environmentStatus: new DataLoader<number, EnvironmentStatus>(async (environmentIds) => domain.environments.statuses(environmentIds)),
    activeJob: new DataLoader<number, PublishJob | null>(async (environmentIds) => domain.jobs.activeByEnvironment(environmentIds)),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
