import type { DomainEvents } from '../domain/events.js';
import { isFinal } from '../domain/publish/jobs.js';
import type { Logger } from '../logger.js';
import type { Metrics } from './metrics.js';

/** Jobs remembered as ended, so that an ended job is counted and logged once (R61, R62). */
const REMEMBERED_ENDINGS = 10_000;

/**
 * Publish jobs as operations sees them: each stage's duration once it ends, and each job's
 * outcome once, counted and logged (a failure as a warning: the job rolled back as designed;
 * an internal failure as an error).
 */
export function observePublishJobs(events: DomainEvents, metrics: Metrics, logger: Logger): () => void {
  const ended = new Set<number>();
  const stagesSeen = new Map<number, Set<number>>();
  return events.subscribe((event) => {
    if (event.type !== 'publishJobUpdated' || ended.has(event.job.id)) return;
    const { job, stages } = event;
    const seen = stagesSeen.get(job.id) ?? new Set<number>();
    stagesSeen.set(job.id, seen);
    for (const stage of stages) {
      if (!stage.startedAt || !stage.finishedAt || seen.has(stage.position)) continue;
      seen.add(stage.position);
      metrics.stageDuration.observe({ kind: job.kind, stage: stage.key, state: stage.state }, (stage.finishedAt.getTime() - stage.startedAt.getTime()) / 1000);
    }
    if (!isFinal(job.state)) return;
    stagesSeen.delete(job.id);
    ended.add(job.id);
    if (ended.size > REMEMBERED_ENDINGS) ended.delete(ended.values().next().value as number);
    metrics.publishJobs.inc({ kind: job.kind, action: job.action, state: job.state });
    const outcome = {
      jobId: job.id,
      accountId: event.accountId,
      kind: job.kind,
      action: job.action,
      state: job.state,
      durationMs: job.startedAt && job.finishedAt ? job.finishedAt.getTime() - job.startedAt.getTime() : null,
      ...(job.errorCode ? { errorCode: job.errorCode, errorStage: job.errorStage } : {}),
    };
    if (job.state !== 'FAILED') logger.info(outcome, 'publish job ended');
    else if (job.errorCode === 'INTERNAL') logger.error(outcome, 'publish job failed unexpectedly');
    else logger.warn(outcome, 'publish job failed');
  });
}
