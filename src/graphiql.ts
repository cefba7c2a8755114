/** What GraphiQL shows on first open: the account at a glance. */
export const DEFAULT_QUERY = `# Welcome to Shipyard. The Authorization header is pre-filled when you open this page
# from the machine Shipyard runs on. Press the play button to run this query.
query Overview {
  viewer {
    user { name role }
    account { name }
  }
  serverInfo { consoleVersion }
  apps(first: 10) {
    totalCount
    nodes { id name identityServices { name providerType } }
  }
  environments(first: 10) {
    nodes { id name url status managementEnabled allowManualPublishOnly }
  }
}
`;
