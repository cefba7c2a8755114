import type { BinaryUpload, ClientBinary } from '../domain/binaries/service.js';
import { clientPlatforms } from '../db/schema.js';
import { downloadPath, uploadPath } from '../http/binaries.js';
import { UserRef } from './account.js';
import { AppRef } from './app.js';
import { builder } from './builder.js';
import { toConnection } from './connection.js';
import { isPresent, localId, parseRowId } from './ids.js';
import { DeletePayloadRef, toPayload, UserErrorRef, type Payload } from './payloads.js';

export const ClientPlatformEnum = builder.enumType('ClientPlatform', { values: clientPlatforms });

export const ClientBinaryRef = builder.loadableNode('ClientBinary', {
  id: { resolve: (binary: ClientBinary) => binary.id, parse: parseRowId },
  load: async (ids: number[], context) => context.domain.binaries.byIds(context.principal, ids).filter(isPresent),
  sort: (binary) => binary.id,
  fields: (t) => ({
    app: t.field({ type: AppRef, resolve: (binary) => binary.appId }),
    platform: t.expose('platform', { type: ClientPlatformEnum }),
    version: t.exposeString('version', {
      description: '1 to 3 dot-separated non-negative integers (1, 1.0, 1.23.456), compared numerically.',
    }),
    description: t.exposeString('description', { nullable: true }),
    fileName: t.exposeString('fileName'),
    sizeBytes: t.expose('sizeBytes', { type: 'SafeInt' }),
    sha256: t.exposeString('sha256'),
    bundleId: t.exposeString('bundleId', {
      nullable: true,
      description: 'Identifier read from the binary itself (CFBundleIdentifier, Android package), where it has one.',
    }),
    uploadedBy: t.field({ type: UserRef, resolve: (binary) => binary.uploadedBy }),
    uploadedAt: t.expose('uploadedAt', { type: 'DateTime' }),
    downloadUrl: t.string({
      description: 'Authenticated URL that streams the file back.',
      resolve: (binary, _args, { origin }) => `${origin}${downloadPath(binary.id)}`,
    }),
  }),
});

/** What createBinaryUpload answers: the row plus, this once, the URL carrying the secret. */
type IssuedUpload = BinaryUpload & { uploadUrl?: string };

export const BinaryUploadRef = builder.loadableNode('BinaryUpload', {
  description: 'A one-time place to stream a large file: PUT the raw bytes to uploadUrl, then call addClientBinary.',
  id: { resolve: (upload: IssuedUpload) => upload.id, parse: parseRowId },
  load: async (ids: number[], context) => context.domain.binaries.uploadsByIds(context.principal, ids).filter(isPresent),
  sort: (upload) => upload.id,
  fields: (t) => ({
    uploadUrl: t.string({
      description: 'Where to PUT the bytes, with the same Authorization header. Shown only in the createBinaryUpload answer.',
      resolve: (upload) => upload.uploadUrl ?? '',
    }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    maxBytes: t.expose('sizeBytes', { type: 'SafeInt' }),
    receivedBytes: t.field({
      type: 'SafeInt',
      description: 'Bytes received so far.',
      resolve: (upload, _args, { domain }) => domain.binaries.receivedBytes(upload),
    }),
    completed: t.boolean({ resolve: (upload) => upload.completedAt !== null }),
    fileName: t.exposeString('fileName'),
    platform: t.expose('platform', { type: ClientPlatformEnum }),
  }),
});

builder.objectField(AppRef, 'clientBinaries', (t) =>
  t.connection(
    {
      type: ClientBinaryRef,
      description: 'By platform, newest version first.',
      args: { platform: t.arg({ type: ClientPlatformEnum }) },
      resolve: (app, args, { domain }) => toConnection(domain.binaries.list(app.id, args)),
    },
    { name: 'ClientBinaryConnection' },
    { name: 'ClientBinaryEdge' },
  ),
);

const UploadClientBinaryInput = builder.inputType('UploadClientBinaryInput', {
  fields: (t) => ({
    appId: t.id({ required: true }),
    platform: t.field({ type: ClientPlatformEnum, required: true }),
    version: t.string({ description: 'Defaults to the version read from the binary, where it has one.' }),
    description: t.string(),
    file: t.field({ type: 'File', required: true }),
  }),
});

const CreateBinaryUploadInput = builder.inputType('CreateBinaryUploadInput', {
  fields: (t) => ({
    appId: t.id({ required: true }),
    platform: t.field({ type: ClientPlatformEnum, required: true }),
    fileName: t.string({ required: true }),
    sizeBytes: t.field({ type: 'SafeInt', required: true }),
  }),
});

const AddClientBinaryInput = builder.inputType('AddClientBinaryInput', {
  fields: (t) => ({
    uploadId: t.id({ required: true }),
    version: t.string(),
    description: t.string(),
  }),
});

const UpdateClientBinaryInput = builder.inputType('UpdateClientBinaryInput', {
  fields: (t) => ({ id: t.id({ required: true }), description: t.string() }),
});

const DeleteClientBinaryInput = builder.inputType('DeleteClientBinaryInput', {
  fields: (t) => ({ id: t.id({ required: true }) }),
});

const ClientBinaryPayload = builder.objectRef<Payload<'binary', ClientBinary>>('ClientBinaryPayload').implement({
  fields: (t) => ({
    binary: t.field({ type: ClientBinaryRef, nullable: true, resolve: (payload) => payload.binary ?? null }),
    userErrors: t.field({ type: [UserErrorRef], resolve: (payload) => payload.userErrors }),
  }),
});

const BinaryUploadPayload = builder.objectRef<Payload<'upload', IssuedUpload>>('BinaryUploadPayload').implement({
  fields: (t) => ({
    upload: t.field({ type: BinaryUploadRef, nullable: true, resolve: (payload) => payload.upload ?? null }),
    userErrors: t.field({ type: [UserErrorRef], resolve: (payload) => payload.userErrors }),
  }),
});

builder.mutationFields((t) => ({
  uploadClientBinary: t.field({
    type: ClientBinaryPayload,
    description: 'Multipart upload, for files up to the configured multipart limit.',
    args: { input: t.arg({ type: UploadClientBinaryInput, required: true }) },
    resolve: async (_root, { input }, { domain, principal }) =>
      toPayload('binary', await domain.binaries.uploadFile(principal, { ...input, appId: localId(input.appId, 'App') })),
  }),
  createBinaryUpload: t.field({
    type: BinaryUploadPayload,
    description: 'Start a streamed upload of any size up to the configured maximum.',
    args: { input: t.arg({ type: CreateBinaryUploadInput, required: true }) },
    resolve: (_root, { input }, { domain, principal, origin }) => {
      const result = domain.binaries.createUpload(principal, { ...input, appId: localId(input.appId, 'App') });
      if (!result.ok) return { userErrors: result.userErrors };
      return { upload: { ...result.value.upload, uploadUrl: `${origin}${uploadPath(result.value.token)}` }, userErrors: [] };
    },
  }),
  addClientBinary: t.field({
    type: ClientBinaryPayload,
    description: 'Turn a completed streamed upload into a client binary.',
    args: { input: t.arg({ type: AddClientBinaryInput, required: true }) },
    resolve: async (_root, { input }, { domain, principal }) =>
      toPayload('binary', await domain.binaries.addFromUpload(principal, { ...input, uploadId: localId(input.uploadId, 'BinaryUpload') })),
  }),
  updateClientBinary: t.field({
    type: ClientBinaryPayload,
    args: { input: t.arg({ type: UpdateClientBinaryInput, required: true }) },
    resolve: (_root, { input }, { domain, principal }) =>
      toPayload('binary', domain.binaries.update(principal, { ...input, id: localId(input.id, 'ClientBinary') })),
  }),
  deleteClientBinary: t.field({
    type: DeletePayloadRef,
    args: { input: t.arg({ type: DeleteClientBinaryInput, required: true }) },
    resolve: (_root, { input }, { domain, principal }) => {
      const result = domain.binaries.delete(principal, localId(input.id, 'ClientBinary'));
      return result.ok ? { deletedId: input.id, userErrors: [] } : { userErrors: result.userErrors };
    },
  }),
}));
