import { clearAllDataLoaders } from '@pothos/plugin-dataloader';
import { GraphQLError } from 'graphql';
import type { EnvironmentStatusChanged } from '../domain/events.js';
import type { JobSnapshot } from '../domain/publish/jobs.js';
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

const asView = ({ job, stages }: JobSnapshot): PublishJobView => ({ ...job, stagesAt: stages });

const EnvironmentStatusEventRef = builder.objectRef<EnvironmentStatusChanged>('EnvironmentStatusEvent').implement({
  fields: (t) => ({
    environment: t.field({ type: EnvironmentRef, resolve: (event) => event.environmentId }),
    status: t.expose('status', { type: EnvironmentStatusEnum }),
    previousStatus: t.expose('previousStatus', { type: EnvironmentStatusEnum, nullable: true }),
    at: t.expose('at', { type: 'DateTime' }),
  }),
});

builder.subscriptionType({
  fields: (t) => ({
    environmentStatusChanged: t.field({
      type: EnvironmentStatusEventRef,
      description: "Every status change of the given environments (all of the account's when omitted).",
      args: { environmentIds: t.arg.idList() },
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
      args: { jobId: t.arg.id({ required: true }) },
      subscribe: (_root, { jobId }, { domain, realtime, principal, dropConnection }) => {
        const id = localId(String(jobId), 'PublishJob');
        const [job] = id === null ? [null] : domain.jobs.byIds(principal, [id]);
        // Another account's job reads exactly like one that does not exist (R6).
        if (!job) throw new GraphQLError('No publish job with that id', { extensions: { code: 'NOT_FOUND' } });
        return realtime.jobStream(principal.accountId, job.id, dropConnection);
      },
      resolve: (snapshot, _args, context) => {
        freshLoaders(context);
        return asView(snapshot);
      },
    }),
    publishJobsUpdated: t.field({
      type: PublishJobRef,
      description: "Every change of any job in scope (the account's, narrowed by app or environment).",
      args: { appId: t.arg.id(), environmentId: t.arg.id() },
      subscribe: (_root, { appId, environmentId }, { realtime, principal, dropConnection }) => {
        const app = appId == null ? undefined : localId(String(appId), 'App');
        const environment = environmentId == null ? undefined : localId(String(environmentId), 'Environment');
        return realtime.jobsStream(
          principal.accountId,
          ({ job }) => (app === undefined || job.appId === app) && (environment === undefined || job.environmentId === environment),
          dropConnection,
        );
      },
      resolve: (snapshot, _args, context) => {
        freshLoaders(context);
        return asView(snapshot);
      },
    }),
  }),
});
