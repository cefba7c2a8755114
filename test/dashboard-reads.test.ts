import { describe, expect, it } from 'vitest';
import { noUserErrors, startServer } from './kit.js';
import { PUBLISH_NATIVE, publishWorld, waitForJob } from './publish-kit.js';

const STATUSES = `query ($id: ID!) { node(id: $id) { ... on App { environmentStatuses {
  latestNativeJob { id state stages { key state } } } } } }`;

interface Row {
  latestNativeJob: { id: string; state: string; stages: { key: string; state: string }[] } | null;
}

describe('dashboard reads of jobs that are still running', () => {
  it('shows a running job as it moves and then as it ended: only what can no longer change is kept between requests', async () => {
    const t = await startServer({ publishStageDelayMs: 40 });
    try {
      const w = await publishWorld(t.admin);
      const latest = async () => ((await t.admin.request(STATUSES, { id: w.appId })).node.environmentStatuses as Row[])[0]?.latestNativeJob ?? null;
      const { job } = noUserErrors(
        (await t.admin.request(PUBLISH_NATIVE, {
          input: { appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', workflowState: 'DRAFT', removePlatforms: ['WINDOWS'] },
        })).publishNativeClient,
      );
      // Read while it runs: some stage not finished yet.
      const seen: NonNullable<Row['latestNativeJob']>[] = [];
      for (let i = 0; i < 500; i += 1) {
        const current = await latest();
        if (current) seen.push(current);
        if (current && ['SUCCEEDED', 'FAILED', 'CANCELED'].includes(current.state)) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await waitForJob(t.admin, job.id);
      expect(seen.some((reading) => reading.id === job.id && reading.stages.some((stage) => stage.state === 'PENDING' || stage.state === 'RUNNING'))).toBe(true);
      const ended = await latest();
      expect(ended?.id).toBe(job.id);
      expect(ended?.state).toBe('SUCCEEDED');
      expect(ended?.stages.every((stage) => stage.state === 'SUCCEEDED' || stage.state === 'SKIPPED')).toBe(true);

      // A newer job takes its place at once.
      const { job: next } = noUserErrors(
        (await t.admin.request(PUBLISH_NATIVE, {
          input: { appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', workflowState: 'DRAFT', removePlatforms: ['WINDOWS'], sync: true },
        })).publishNativeClient,
      );
      expect((await latest())?.id).toBe(next.id);
    } finally {
      await t.stop();
    }
  });
});
