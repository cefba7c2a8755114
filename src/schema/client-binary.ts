import type { ClientBinary, ClientBinaryOrderField } from '../domain/binaries/catalogue.js';
import type { BinaryUpload } from '../domain/binaries/uploads.js';
import { can } from '../domain/policy.js';
import { clientPlatforms } from '../domain/vocabulary.js';
import { downloadPath, uploadPath } from '../http/binaries.js';
import { UserRef } from './account.js';
import { AppRef } from './app.js';
import { builder } from './builder.js';
import { orderByInput, toConnection } from './connection.js';
import { isPresent, localId, parseRowId } from './ids.js';
import { DeletePayloadRef, toPayload, UserErrorRef, type Payload } from './payloads.js';

export const ClientPlatformEnum = builder.enumType('ClientPlatform', {
  description: 'What a client binary runs on.',
  values: {
    IOS_PHONE: { description: 'iPhone: an .ipa file.' },
    IOS_TABLET: { description: 'iPad: an .ipa file.' },
    ANDROID_PHONE: { description: 'Android phone: an .apk or .aab file.' },
    ANDROID_TABLET: { description: 'Android tablet: an .apk or .aab file.' },
    WINDOWS: { description: 'Windows: an .appx, .msix, .appxbundle or .xap file.' },
    WEB: { description: 'Web client: a .war or .zip file, published with publishServicesAndWeb.' },
  } satisfies Record<(typeof clientPlatforms)[number], unknown>,
});

export const ClientBinaryRef = builder.loadableNode('ClientBinary', {
  description: 'One uploaded version of an app for one platform.',
  id: { resolve: (binary: ClientBinary) => binary.id, parse: parseRowId },
  load: async (ids: number[], context) => (await context.domain.binaries.byIds(context.principal, ids)).filter(isPresent),
  sort: (binary) => binary.id,
  fields: (t) => ({
    app: t.field({ type: AppRef, description: 'The app it is a version of.', resolve: (binary) => binary.appId }),
    platform: t.expose('platform', { type: ClientPlatformEnum, description: 'What it runs on.' }),
    version: t.exposeString('version', {
      description: '1 to 3 dot-separated non-negative integers (1, 1.0, 1.23.456), compared numerically.',
    }),
    description: t.exposeString('description', { nullable: true, description: 'Free text, such as release notes.' }),
    fileName: t.exposeString('fileName', { description: 'The name the file was uploaded with.' }),
    sizeBytes: t.expose('sizeBytes', { type: 'SafeInt', description: 'Size of the file in bytes.' }),
    sha256: t.exposeString('sha256', { description: 'Hex SHA-256 digest of the file.' }),
    bundleId: t.exposeString('bundleId', {
      nullable: true,
      description: 'Identifier read from the binary itself (CFBundleIdentifier, Android package), where it has one.',
    }),
    uploadedBy: t.field({ type: UserRef, description: 'Who uploaded it.', resolve: (binary) => binary.uploadedBy }),
    uploadedAt: t.expose('uploadedAt', { type: 'DateTime', description: 'When it was uploaded.' }),
    updatedAt: t.field({
      type: 'DateTime',
      description: 'When its description last changed; the upload time until then.',
      resolve: (binary) => binary.updatedAt ?? binary.uploadedAt,
    }),
    viewerCanUpdate: t.boolean({
      description: "Whether the caller's role allows updateClientBinary (MEMBER).",
      resolve: (_binary, _args, { principal }) => can(principal, 'manageBinaries'),
    }),
    viewerCanDelete: t.boolean({
      description: "Whether the caller's role allows deleteClientBinary (MEMBER); it is still refused while a Management runtime serves it.",
      resolve: (_binary, _args, { principal }) => can(principal, 'manageBinaries'),
    }),
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
  load: async (ids: number[], context) => (await context.domain.uploads.byIds(context.principal, ids)).filter(isPresent),
  sort: (upload) => upload.id,
  fields: (t) => ({
    uploadUrl: t.string({
      description: 'Where to PUT the bytes, with the same Authorization header. Shown only in the createBinaryUpload answer.',
      resolve: (upload) => upload.uploadUrl ?? '',
    }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', description: 'After this, the upload URL takes nothing more.' }),
    maxBytes: t.expose('sizeBytes', { type: 'SafeInt', description: 'The declared size: exactly this many bytes must arrive.' }),
    receivedBytes: t.field({
      type: 'SafeInt',
      description: 'Bytes received so far.',
      resolve: (upload, _args, { domain }) => domain.uploads.receivedBytes(upload),
    }),
    completed: t.boolean({ description: 'Whether every byte arrived and the file is stored.', resolve: (upload) => upload.completedAt !== null }),
    fileName: t.exposeString('fileName', { description: 'The name the binary will have.' }),
    platform: t.expose('platform', { type: ClientPlatformEnum, description: 'The platform the binary will be for.' }),
  }),
});

const ClientBinaryOrderFieldEnum = builder.enumType('ClientBinaryOrderField', {
  description: 'What client binaries can be ordered by.',
  values: {
    PLATFORM_VERSION: { description: 'Platform, then newest version first (the default, ascending).' },
    UPLOADED_AT: { description: 'When the binary was uploaded.' },
    UPDATED_AT: { description: 'When the binary last changed (its upload until then).' },
  } satisfies Record<ClientBinaryOrderField, unknown>,
});

const ClientBinaryOrder = orderByInput('ClientBinaryOrder', ClientBinaryOrderFieldEnum, 'client binaries');

builder.objectField(AppRef, 'clientBinaries', (t) =>
  t.connection(
    {
      type: ClientBinaryRef,
      description: 'By platform, newest version first, unless `orderBy` says otherwise.',
      args: {
        platform: t.arg({ type: ClientPlatformEnum, description: 'Only binaries of this platform.' }),
        orderBy: t.arg({ type: ClientBinaryOrder, description: 'Order of the list; defaults to PLATFORM_VERSION ascending.' }),
      },
      resolve: async (app, args, { domain }) => toConnection(await domain.binaries.list(app.id, args)),
    },
    { name: 'ClientBinaryConnection', description: 'A page of client binaries.' },
    { name: 'ClientBinaryEdge', description: 'A client binary in a page, with its cursor.' },
  ),
);

const UploadClientBinaryInput = builder.inputType('UploadClientBinaryInput', {
  description: 'A binary sent in the same multipart request.',
  fields: (t) => ({
    appId: t.id({ required: true, description: 'The App it is a version of.' }),
    platform: t.field({ type: ClientPlatformEnum, required: true, description: 'What it runs on; the file must be a binary of it.' }),
    version: t.string({ description: 'Defaults to the version read from the binary, where it has one.' }),
    description: t.string({ description: 'Free text, such as release notes.' }),
    file: t.field({ type: 'File', required: true, description: 'The file, as a multipart part.' }),
  }),
});

const CreateBinaryUploadInput = builder.inputType('CreateBinaryUploadInput', {
  description: 'A streamed upload to start.',
  fields: (t) => ({
    appId: t.id({ required: true, description: 'The App the binary will be a version of.' }),
    platform: t.field({ type: ClientPlatformEnum, required: true, description: 'What the binary runs on.' }),
    fileName: t.string({ required: true, description: "The file's name, with the platform's extension." }),
    sizeBytes: t.field({ type: 'SafeInt', required: true, description: 'Exact size of the file in bytes.' }),
  }),
});

const AddClientBinaryInput = builder.inputType('AddClientBinaryInput', {
  description: 'A completed streamed upload to turn into a binary.',
  fields: (t) => ({
    uploadId: t.id({ required: true, description: 'The BinaryUpload, once completed.' }),
    version: t.string({ description: 'Defaults to the version read from the binary, where it has one.' }),
    description: t.string({ description: 'Free text, such as release notes.' }),
  }),
});

const UpdateClientBinaryInput = builder.inputType('UpdateClientBinaryInput', {
  description: 'Changes to a client binary; its file and version never change.',
  fields: (t) => ({
    id: t.id({ required: true, description: 'The ClientBinary to change.' }),
    description: t.string({ description: 'The new description; null clears it.' }),
  }),
});

const DeleteClientBinaryInput = builder.inputType('DeleteClientBinaryInput', {
  description: 'The client binary to delete.',
  fields: (t) => ({ id: t.id({ required: true, description: 'The ClientBinary; refused while a Management runtime serves it.' }) }),
});

const ClientBinaryPayload = builder.objectRef<Payload<'binary', ClientBinary>>('ClientBinaryPayload').implement({
  description: 'What the client binary mutations answer.',
  fields: (t) => ({
    binary: t.field({ type: ClientBinaryRef, nullable: true, description: 'The binary as it now stands; null when refused.', resolve: (payload) => payload.binary ?? null }),
    userErrors: t.field({ type: [UserErrorRef], description: 'Why the request was refused; empty on success.', resolve: (payload) => payload.userErrors }),
  }),
});

const BinaryUploadPayload = builder.objectRef<Payload<'upload', IssuedUpload>>('BinaryUploadPayload').implement({
  description: 'What createBinaryUpload answers.',
  fields: (t) => ({
    upload: t.field({ type: BinaryUploadRef, nullable: true, description: 'The upload, with its one-time URL; null when refused.', resolve: (payload) => payload.upload ?? null }),
    userErrors: t.field({ type: [UserErrorRef], description: 'Why the request was refused; empty on success.', resolve: (payload) => payload.userErrors }),
  }),
});

builder.mutationFields((t) => ({
  uploadClientBinary: t.field({
    type: ClientBinaryPayload,
    description: 'Multipart upload, for files up to the configured multipart limit.',
    args: { input: t.arg({ type: UploadClientBinaryInput, required: true, description: 'The binary and its file.' }) },
    resolve: async (_root, { input }, { domain, principal }) =>
      toPayload('binary', await domain.binaries.uploadFile(principal, { ...input, appId: localId(input.appId, 'App') })),
  }),
  createBinaryUpload: t.field({
    type: BinaryUploadPayload,
    description: 'Start a streamed upload of any size up to the configured maximum.',
    args: { input: t.arg({ type: CreateBinaryUploadInput, required: true, description: 'The file to come.' }) },
    resolve: async (_root, { input }, { domain, principal, origin }) => {
      const result = await domain.uploads.create(principal, { ...input, appId: localId(input.appId, 'App') });
      if (!result.ok) return { userErrors: result.userErrors };
      return { upload: { ...result.value.upload, uploadUrl: `${origin}${uploadPath(result.value.token)}` }, userErrors: [] };
    },
  }),
  addClientBinary: t.field({
    type: ClientBinaryPayload,
    description: 'Turn a completed streamed upload into a client binary.',
    args: { input: t.arg({ type: AddClientBinaryInput, required: true, description: 'The completed upload.' }) },
    resolve: async (_root, { input }, { domain, principal }) =>
      toPayload('binary', await domain.binaries.addFromUpload(principal, { ...input, uploadId: localId(input.uploadId, 'BinaryUpload') })),
  }),
  updateClientBinary: t.field({
    type: ClientBinaryPayload,
    description: "Change a binary's description (MEMBER).",
    args: { input: t.arg({ type: UpdateClientBinaryInput, required: true, description: 'The changes.' }) },
    resolve: async (_root, { input }, { domain, principal }) =>
      toPayload('binary', await domain.binaries.update(principal, { ...input, id: localId(input.id, 'ClientBinary') })),
  }),
  deleteClientBinary: t.field({
    type: DeletePayloadRef,
    description: 'Delete a binary (MEMBER); refused while a Management runtime serves it (R20).',
    args: { input: t.arg({ type: DeleteClientBinaryInput, required: true, description: 'The binary to delete.' }) },
    resolve: async (_root, { input }, { domain, principal }) => {
      const result = await domain.binaries.delete(principal, localId(input.id, 'ClientBinary'));
      return result.ok ? { deletedId: input.id, userErrors: [] } : { userErrors: result.userErrors };
    },
  }),
}));
