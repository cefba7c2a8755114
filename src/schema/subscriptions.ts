import { clearAllDataLoaders } from '@pothos/plugin-dataloader';
import { GraphQLError } from 'graphql';
import type { EnvironmentStatusChanged } from '../domain/events.js';
import type { JobReading } from '../domain/publish/jobs.js';
import { builder, type Context } from './builder.js';
import { EnvironmentRef, EnvironmentStatusEnum } from './environment.js';
import { localId } from './ids.js';
import { createLoaders } from './loaders.js';
import { PublishJobRef, type PublishJobView } from './publish-job.js';

/**
 * A subscription's context lives as long as the subscription; each event is resolved with fresh
 * loaders so that it never shows rows cached for an earlier event.
 */
function freshLoaders(context: Context): void {
  clearAllDataLoaders(context);
  context.loaders = createLoaders(context.domain);
}

const asView = ({ job, stages }: JobReading): PublishJobView => ({ ...job, stagesAt: stages });

const EnvironmentStatusEventRef = builder.objectRef<EnvironmentStatusChanged>('EnvironmentStatusEvent').implement({
  description: "A change of an environment's status.",
  fields: (t) => ({
    environment: t.field({ type: EnvironmentRef, description: 'The environment, as it stands when the event is sent.', resolve: (event) => event.environmentId }),
    status: t.expose('status', { type: EnvironmentStatusEnum, description: 'The status it changed to.' }),
    previousStatus: t.expose('previousStatus', { type: EnvironmentStatusEnum, nullable: true, description: 'The status it changed from.' }),
    at: t.expose('at', { type: 'DateTime', description: 'When it changed.' }),
  }),
});

builder.subscriptionType({
  description: 'Live updates over graphql-ws or SSE; each starts with the current state where it has one.',
  fields: (t) => ({
    environmentStatusChanged: t.field({
      type: EnvironmentStatusEventRef,
      description: "Every status change of the given environments (all of the account's when omitted).",
      args: { environmentIds: t.arg.idList({ description: 'Environments to follow; all of the account when omitted.' }) },
      subscribe: (_root, { environmentIds }, { realtime, principal, dropConnection }) => {
        const wanted = environmentIds ? new Set(environmentIds.map((id) => localId(String(id), 'Environment'))) : null;
        return realtime.environmentStream(principal.accountId, (event) => !wanted || wanted.has(event.environmentId), dropConnection);
      },
      resolve: (event, _args, context) => {
        freshLoaders(context);
        return event;
      },
    }),
    publishJobUpdated: t.field({
      type: PublishJobRef,
      description: 'The job as it stands now, then again on every stage or state change; completes after a final state.',
      args: { jobId: t.arg.id({ required: true, description: 'The PublishJob to follow.' }) },
      subscribe: async (_root, { jobId }, { domain, realtime, principal, dropConnection }) => {
        const id = localId(String(jobId), 'PublishJob');
        const [job] = id === null ? [null] : await domain.jobs.byIds(principal, [id]);
        // Another account's job reads exactly like one that does not exist (R6).
        if (!job) throw new GraphQLError('No publish job with that id', { extensions: { code: 'NOT_FOUND' } });
        return realtime.jobStream(principal.accountId, job.id, dropConnection);
      },
      resolve: (reading, _args, context) => {
        freshLoaders(context);
        return asView(reading);
      },
    }),
    publishJobsUpdated: t.field({
      type: PublishJobRef,
      description: "Every change of any job in scope (the account's, narrowed by app or environment).",
      args: {
        appId: t.arg.id({ description: 'Only jobs of this App.' }),
        environmentId: t.arg.id({ description: 'Only jobs in this Environment.' }),
      },
      subscribe: (_root, { appId, environmentId }, { realtime, principal, dropConnection }) => {
        const app = appId == null ? undefined : localId(String(appId), 'App');
        const environment = environmentId == null ? undefined : localId(String(environmentId), 'Environment');
        return realtime.jobsStream(
          principal.accountId,
          ({ job }) => (app === undefined || job.appId === app) && (environment === undefined || job.environmentId === environment),
          dropConnection,
        );
      },
      resolve: (reading, _args, context) => {
        freshLoaders(context);
        return asView(reading);
      },
    }),
  }),
});
