import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';
import { buildSchema } from '../src/schema/index.js';
import { ipa } from './fixtures.js';
import { multipartUpload, noUserErrors, type Client } from './kit.js';
import { binary, PUBLISH_NATIVE, publishWorld } from './publish-kit.js';

export const schema: GraphQLSchema = buildSchema();

export const mutationFields = (): GraphQLField<unknown, unknown>[] => Object.values(schema.getMutationType()?.getFields() ?? {});
export const queryFields = (): GraphQLField<unknown, unknown>[] => Object.values(schema.getQueryType()?.getFields() ?? {});
export const subscriptionFields = (): GraphQLField<unknown, unknown>[] => Object.values(schema.getSubscriptionType()?.getFields() ?? {});
export const nodeTypes = (): string[] =>
  Object.values(schema.getTypeMap())
    .filter((type) => 'getInterfaces' in type && typeof type.getInterfaces === 'function' && type.getInterfaces().some((i) => i.name === 'Node'))
    .map((type) => type.name)
    .sort();

/** One object of every node type in one account, by type name. */
export type EveryNode = Record<string, string>;

/** Builds an account holding one of every node type, through the API as a user would. */
export async function createEveryNode(admin: Client): Promise<EveryNode> {
  const w = await publishWorld(admin);
  const ios = await binary(admin, w.appId, 'IOS_PHONE', '1.0');
  const published = noUserErrors(
    (await admin.request(PUBLISH_NATIVE, {
      input: { appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', workflowState: 'ACTIVE', binaryIds: [ios], targets: { userIds: [w.users.ann] }, sync: true },
    })).publishNativeClient,
  );
  const state = await admin.request(
    `query ($env: ID!, $user: ID!) {
      viewer { user { id } account { id } apiTokens { id } }
      env: node(id: $env) { ... on Environment { managementApps { id } } }
      user: node(id: $user) { ... on DirectoryUser { notifications { id } } }
    }`,
    { env: w.environmentId, user: w.users.ann },
  );
  const invitation = await admin.request(
    `mutation ($user: ID!) { createStoreInvitation(input: { directoryUserId: $user }) { invitation { id } } }`,
    { user: w.users.ann },
  );
  const upload = await admin.request(
    `mutation ($app: ID!) { createBinaryUpload(input: { appId: $app, platform: ANDROID_PHONE, fileName: "w.apk", sizeBytes: 10 }) { upload { id } } }`,
    { app: w.appId },
  );
  return {
    Account: state.viewer.account.id,
    User: state.viewer.user.id,
    ApiToken: state.viewer.apiTokens[0].id,
    App: w.appId,
    Environment: w.environmentId,
    DirectoryUser: w.users.ann,
    DirectoryGroup: w.groups.Team,
    ClientBinary: ios,
    BinaryUpload: upload.createBinaryUpload.upload.id,
    ManagementApp: state.env.managementApps[0].id,
    StoreNotification: state.user.notifications[0].id,
    PublishJob: published.job.id,
    StoreInvitation: invitation.createStoreInvitation.invitation.id,
  };
}

/** Which node type an ID input field names, from its name and where it stands. */
export function idTypeOf(mutation: string, parentType: string, field: string): string {
  if (field === 'id') {
    const named = mutation.replace(/^(update|delete|check|revoke)/, '');
    if (named === 'ApiToken' || schema.getType(named)) return named;
  }
  const base = field.replace(/Ids?$/, '');
  const byName: Record<string, string> = {
    app: 'App',
    environment: 'Environment',
    upload: 'BinaryUpload',
    managementApp: 'ManagementApp',
    job: 'PublishJob',
    binary: 'ClientBinary',
    webClientBinary: 'ClientBinary',
    group: 'DirectoryGroup',
    member: 'DirectoryUser',
    directoryUser: 'DirectoryUser',
    user: parentType === 'CreateApiTokenInput' || parentType === 'UpdateUserInput' ? 'User' : 'DirectoryUser',
  };
  const type = byName[base];
  if (!type) throw new Error(`teach test/schema-walk.ts which type ${mutation}.${parentType}.${field} names`);
  return type;
}

let unique = 0;

/** A plausible value of every input field: real ids of the world, valid-looking strings. */
export function baselineInput(mutation: string, type: GraphQLInputType, world: EveryNode, parentType = '', field = ''): unknown {
  if (isNonNullType(type)) return baselineInput(mutation, type.ofType, world, parentType, field);
  if (isListType(type)) return [baselineInput(mutation, type.ofType, world, parentType, field)];
  if (isInputObjectType(type)) {
    return Object.fromEntries(
      Object.values(type.getFields()).map((child) => [child.name, baselineInput(mutation, child.type, world, type.name, child.name)]),
    );
  }
  if (isEnumType(type)) return type.getValues()[0]?.value;
  if (isScalarType(type)) {
    unique += 1;
    switch (type.name) {
      case 'ID':
        return world[idTypeOf(mutation, parentType, field)];
      case 'Boolean':
        return false;
      case 'Int':
      case 'SafeInt':
      case 'Float':
        return 10;
      case 'File':
        return null;
      case 'DateTime':
        // Only expiry times are DateTime inputs so far; a valid one lies ahead.
        return new Date(Date.now() + 24 * 60 * 60 * 1000).toISOString();
      default:
        if (field === 'email') return `valid${unique}@example.com`;
        if (field === 'url' || field === 'baseUrl') return `https://valid${unique}.example.com`;
        if (type.name === 'DateTime') return new Date(Date.now() + 86_400_000).toISOString();
        if (field === 'version') return `${unique}.0`;
        if (field === 'fileName') return `valid${unique}.ipa`;
        if (field === 'name' && parentType === 'CreateEnvironmentInput') return `valid-${unique}`;
        return `Valid${unique}`;
    }
  }
  throw new Error(`no baseline for ${String(type)}`);
}

export interface Leaf {
  path: string[];
  kind: string;
  list: boolean;
}

/** Every scalar or enum field of an input type, with its path. */
export function leaves(type: GraphQLInputType, path: string[] = [], list = false): Leaf[] {
  if (isNonNullType(type)) return leaves(type.ofType, path, list);
  if (isListType(type)) return leaves(type.ofType, path, true);
  if (isInputObjectType(type)) return Object.values(type.getFields()).flatMap((child) => leaves(child.type, [...path, child.name]));
  return [{ path, kind: getNamedType(type).name, list }];
}

export function setPath(target: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(target);
  let at: Record<string, unknown> = copy;
  path.slice(0, -1).forEach((key) => {
    at[key] = { ...((at[key] as Record<string, unknown> | undefined) ?? {}) };
    at = at[key] as Record<string, unknown>;
  });
  at[path.at(-1) as string] = value;
  return copy;
}

/** The selection that shows a payload's outcome, whatever the payload type. */
export function payloadSelection(field: GraphQLField<unknown, unknown>): string {
  const type = getNamedType(field.type);
  const fields = 'getFields' in type ? Object.keys((type as { getFields(): object }).getFields()) : [];
  const scalarish = fields.filter((name) => name === 'deletedId' || name === 'token');
  return `{ ${scalarish.join(' ')} userErrors { code message field } }`;
}

/** Sends a mutation with its input; uploadClientBinary travels as multipart, as it must. */
export async function sendMutation(client: Client, field: GraphQLField<unknown, unknown>, input: unknown) {
  const inputType = field.args.find((arg) => arg.name === 'input')?.type;
  const query = `mutation ($input: ${String(inputType)}) { ${field.name}(input: $input) ${payloadSelection(field)} }`;
  if (field.name === 'uploadClientBinary') {
    const file = { name: 'app.ipa', content: await ipa({ CFBundleShortVersionString: '77.0' }) };
    const response = await multipartUpload(client, (input ?? {}) as Record<string, unknown>, file, { query });
    return { status: response.status, data: response.body.data as Record<string, unknown> | undefined, errors: response.body.errors };
  }
  return client.raw(query, { input });
}

