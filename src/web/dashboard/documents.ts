import { graphql } from '../gql/index.js';

/** Every app in every environment, and the jobs still under way. */
export const DashboardQuery = graphql(`
  query DashboardMatrix {
    environments(first: 50) {
      nodes { id name status }
    }
    apps(first: 50) {
      nodes {
        id
        name
        environmentStatuses {
          environment { id }
          nativeClient
          servicesAndWeb
        }
      }
    }
    publishJobs(first: 20, states: [QUEUED, RUNNING, CANCELING]) {
      nodes { ...DashboardJob }
    }
  }
`);

export const DashboardJobFragment = graphql(`
  fragment DashboardJob on PublishJob {
    id
    trackingId
    kind
    action
    state
    revision
    progress
    app { id name }
    environment { id name }
    stages { key title state }
    error { code message }
  }
`);

export const JobsUpdated = graphql(`
  subscription DashboardJobsUpdated {
    publishJobsUpdated { ...DashboardJob }
  }
`);

export const EnvironmentsChanged = graphql(`
  subscription DashboardEnvironmentsChanged {
    environmentStatusChanged { environment { id status } }
  }
`);
