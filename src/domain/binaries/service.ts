import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { and, eq, inArray, isNull, notExists, sql, type SQL } from 'drizzle-orm';
import { countRows, isUniqueViolation, lockForUpdate, oneRow, type Db } from '../../db/client.js';
import { accounts, apps, binaryUploads, blobs, clientBinaries } from '../../db/schema.js';
import { denial } from '../policy.js';
import { chooseOrder, keysetPage, tableSource, type KeysetOrder, type OrderBy, type Page, type PageArgs } from '../pagination.js';
import type { Principal } from '../principal.js';
import { fail, notFound, ok, userError, type Result, type UserError } from '../result.js';
import { sha256Hex } from '../tokens.js';
import { checkDescription, compareVersions, isVersion, MAX_NAME_LENGTH } from '../validation.js';
import { releaseBlob } from './blob-refs.js';
import { BlobStore, TooLargeError, type StoredTemp } from './blob-store.js';
import type { ArchiveInspector } from './inspector.js';
import type { ArchiveKind } from './archive.js';
import { describeKind, platformRules, type ClientPlatform } from './platforms.js';
import { listKey, statedVersion, versionKey } from './versions.js';
import { inIdOrder } from '../rows.js';

export type ClientBinary = typeof clientBinaries.$inferSelect;
export type BinaryUpload = typeof binaryUploads.$inferSelect;

/** R16: an app keeps at most this many web client binaries. */
export const MAX_WEB_BINARIES = 10;
/** R18: an upload URL is valid this long. */
export const UPLOAD_TTL_MS = 60 * 60 * 1000;

export interface BinaryLimits {
  maxUploadBytes: number;
  maxMultipartBytes: number;
  /** Declared bytes of streamed uploads an account may have outstanding at once (R69). */
  uploadQuotaBytes: number;
}

export interface NewBinary {
  appId: number | null;
  platform: ClientPlatform;
  version?: string | null;
  description?: string | null;
}

/** Why the bytes of a streamed upload were not taken. */
export type UploadRefusal =
  /** No upload of the caller's account at this URL (R71). */
  | 'NOT_FOUND'
  /** The caller's role may not upload. */
  | 'FORBIDDEN'
  /** The upload has its bytes already; a URL is used once. */
  | 'ALREADY_USED'
  /** Another request is sending this upload's bytes now. */
  | 'IN_PROGRESS'
  | 'EXPIRED'
  /** More bytes than the upload declared. */
  | 'TOO_LARGE'
  /** Fewer bytes than the upload declared. */
  | 'INCOMPLETE';

/** What became of the bytes sent for a streamed upload. */
export type UploadReceipt =
  | { outcome: 'STORED'; sha256: string; sizeBytes: number }
  | { outcome: 'REFUSED'; refused: UploadRefusal; message: string }
  /** The client went away mid-stream: nothing to answer, nothing kept. */
  | { outcome: 'ABORTED' };

const refused = (reason: UploadRefusal, message: string): UploadReceipt => ({ outcome: 'REFUSED', refused: reason, message });

/**
 * Decides who may still be served a binary before it is deleted; the Management runtime plugs in
 * here (R20). Answers the names of the environments that serve it.
 */
export type ServedByCheck = (principal: Principal, binaryId: number) => Promise<string[]>;

export type ClientBinaryOrderField = 'PLATFORM_VERSION' | 'UPLOADED_AT' | 'UPDATED_AT';

const binaryOrders: Record<ClientBinaryOrderField, Omit<KeysetOrder<ClientBinary>, 'name' | 'direction'>> = {
  // Ascending is by platform, newest version first (the list key complements the version).
  PLATFORM_VERSION: { sortKey: clientBinaries.listKey, id: clientBinaries.id, sortValue: (binary) => binary.listKey, idValue: (binary) => binary.id },
  UPLOADED_AT: { sortKey: clientBinaries.uploadedAt, id: clientBinaries.id, sortValue: (binary) => binary.uploadedAt.getTime(), idValue: (binary) => binary.id },
  UPDATED_AT: {
    sortKey: sql`coalesce(${clientBinaries.updatedAt}, ${clientBinaries.uploadedAt})`,
    id: clientBinaries.id,
    sortValue: (binary) => (binary.updatedAt ?? binary.uploadedAt).getTime(),
    idValue: (binary) => binary.id,
  },
};

const defaultBinaryOrder: KeysetOrder<ClientBinary> = { ...binaryOrders.PLATFORM_VERSION, direction: 'asc' };

// eslint-disable-next-line no-control-regex
const unsafeFileName = /[\u0000-\u001f\u007f/\\]|^\.\.?$/;

function checkFileName(name: string, field: string[]): UserError | null {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH)
    return userError('INVALID_INPUT', `File name must be 1 to ${MAX_NAME_LENGTH} characters`, field);
  if (unsafeFileName.test(name)) return userError('INVALID_INPUT', 'File name must be a plain name, without a path or control characters', field);
  return null;
}

/** The kind of app a file name says it holds, by its extension; null when no platform takes it. */
function kindByName(fileName: string): ArchiveKind | null {
  const name = fileName.toLowerCase();
  const rule = Object.values(platformRules).find(({ extensions }) => extensions.some((extension) => name.endsWith(extension)));
  return rule?.kind ?? null;
}

/** "An IOS_PHONE binary is a .ipa file": what a platform's file is called. */
function wrongName(platform: ClientPlatform, field: string[]): UserError {
  const { extensions } = platformRules[platform];
  const names = extensions.length > 1 ? `${extensions.slice(0, -1).join(', ')} or ${extensions.at(-1)}` : extensions.join('');
  return userError('INVALID_BINARY', `${/^[AEIOU]/.test(platform) ? 'An' : 'A'} ${platform} binary is a ${names} file`, field);
}

const mismatch = (platform: ClientPlatform, kind: ArchiveKind, field: string[], what = 'The file is') =>
  userError('PLATFORM_MISMATCH', `${what} ${describeKind(kind)}, not ${describeKind(platformRules[platform].kind)} for ${platform}`, field);

/**
 * R14 by file name: a name no platform takes is INVALID_BINARY; a name of another platform's
 * kind is PLATFORM_MISMATCH when nothing more is known (`byContent` false). When the content will
 * be read, a name of another kind is left for `register` to settle with the content.
 */
function checkExtension(platform: ClientPlatform, fileName: string, field: string[], byContent: boolean): UserError | null {
  const kind = kindByName(fileName);
  if (kind === null) return wrongName(platform, field);
  if (kind === platformRules[platform].kind || byContent) return null;
  return mismatch(platform, kind, field, 'The file name says it is');
}

/** Another PUT completed the upload first, or it was dropped meanwhile. */
class UploadTaken extends Error {}

export class BinaryService {
  /** Bytes received so far by PUTs under way, by upload id; they are written to the row at the end. */
  private readonly receiving = new Map<number, number>();
  private servedBy: ServedByCheck = async () => [];

  constructor(
    private readonly db: Db,
    private readonly store: BlobStore,
    private readonly limits: BinaryLimits,
    /** Reads the files in worker threads (R68); the main thread never parses them. */
    private readonly inspector: ArchiveInspector,
  ) {}

  /** The Management runtime tells which binaries it serves (R20). */
  setServedByCheck(check: ServedByCheck): void {
    this.servedBy = check;
  }

  async byIds(principal: Principal, ids: readonly number[]): Promise<(ClientBinary | null)[]> {
    const rows = await this.db
      .select()
      .from(clientBinaries)
      .where(and(eq(clientBinaries.accountId, principal.accountId), inArray(clientBinaries.id, [...ids])));
    return inIdOrder(ids, rows);
  }

  async uploadsByIds(principal: Principal, ids: readonly number[]): Promise<(BinaryUpload | null)[]> {
    const rows = await this.db
      .select()
      .from(binaryUploads)
      .where(and(eq(binaryUploads.accountId, principal.accountId), inArray(binaryUploads.id, [...ids])));
    return inIdOrder(ids, rows);
  }

  /** Bytes an upload has received, counting a PUT that is still streaming. */
  receivedBytes(upload: BinaryUpload): number {
    return this.receiving.get(upload.id) ?? upload.receivedBytes;
  }

  /** An app's binaries: by platform, newest version first (R16). */
  async list(appId: number, args: PageArgs & { platform?: ClientPlatform | null; orderBy?: OrderBy<ClientBinaryOrderField> | null }): Promise<Page<ClientBinary>> {
    const conditions: (SQL | undefined)[] = [eq(clientBinaries.appId, appId)];
    if (args.platform) conditions.push(eq(clientBinaries.platform, args.platform));
    return keysetPage(
      tableSource(this.db, clientBinaries),
      args.orderBy ? chooseOrder(binaryOrders, args.orderBy) : defaultBinaryOrder,
      and(...conditions),
      args,
    );
  }

  pathOf(binary: ClientBinary): string {
    return this.store.pathOf(binary.sha256);
  }

  /** R19: a multipart file, already parsed by the GraphQL server, validated and registered. */
  async uploadFile(
    principal: Principal,
    input: NewBinary & { file: { name: string; stream(): ReadableStream<Uint8Array> } },
  ): Promise<Result<ClientBinary>> {
    const forbidden = denial(principal, 'manageBinaries');
    if (forbidden) return fail(forbidden);
    const early = await this.checkNewBinary(principal, input, input.file.name, ['input', 'file']);
    if (!early.ok) return early;
    let temp: StoredTemp;
    try {
      temp = await this.store.writeTemp(input.file.stream() as unknown as AsyncIterable<Uint8Array>, this.limits.maxMultipartBytes);
    } catch (error) {
      if (error instanceof TooLargeError)
        return fail(userError('LIMIT_EXCEEDED', `The file is larger than ${this.limits.maxMultipartBytes} bytes`, ['input', 'file']));
      throw error;
    }
    return this.register(principal, input, early.value, input.file.name, temp, null);
  }

  async createUpload(
    principal: Principal,
    input: { appId: number | null; platform: ClientPlatform; fileName: string; sizeBytes: number },
  ): Promise<Result<{ upload: BinaryUpload; token: string }>> {
    const forbidden = denial(principal, 'manageBinaries');
    if (forbidden) return fail(forbidden);
    const app = await this.appOf(principal, input.appId);
    if (!app) return fail(notFound('app', ['input', 'appId']));
    const problems = [
      checkFileName(input.fileName, ['input', 'fileName']),
      checkExtension(input.platform, input.fileName, ['input', 'fileName'], false),
    ].filter((p) => p !== null);
    if (!Number.isSafeInteger(input.sizeBytes) || input.sizeBytes < 1)
      problems.push(userError('INVALID_INPUT', 'Size must be a positive number of bytes', ['input', 'sizeBytes']));
    else if (input.sizeBytes > this.limits.maxUploadBytes)
      problems.push(userError('LIMIT_EXCEEDED', `Uploads are at most ${this.limits.maxUploadBytes} bytes`, ['input', 'sizeBytes']));
    if (problems.length > 0) return fail(...problems);
    const token = randomBytes(32).toString('base64url');
    // R69: the quota is read and the upload written in one transaction holding the account's
    // row, so two uploads started at once cannot both fit in what is left for one.
    const created = await this.db.transaction(async (tx): Promise<Result<BinaryUpload>> => {
      await lockForUpdate(tx, accounts.id, principal.accountId);
      const outstanding = await this.outstandingUploadBytes(principal.accountId);
      if (outstanding + input.sizeBytes > this.limits.uploadQuotaBytes)
        return fail(
          userError(
            'LIMIT_EXCEEDED',
            `The account's uploads in progress already declare ${outstanding} of ${this.limits.uploadQuotaBytes} bytes; complete or let some expire first`,
            ['input', 'sizeBytes'],
          ),
        );
      const upload = oneRow(
        await tx
          .insert(binaryUploads)
          .values({
            accountId: principal.accountId,
            appId: app.id,
            platform: input.platform,
            fileName: input.fileName,
            sizeBytes: input.sizeBytes,
            tokenSha256: sha256Hex(token),
            expiresAt: new Date(Date.now() + UPLOAD_TTL_MS),
            createdBy: principal.userId,
          })
          .returning(),
      );
      return ok(upload);
    });
    if (!created.ok) return created;
    const upload = created.value;
    return ok({ upload, token });
  }

  /** R69: bytes declared by the account's uploads that are neither completed nor expired. */
  private async outstandingUploadBytes(accountId: number, now = new Date()): Promise<number> {
    const row = (await this.db
      .select({ bytes: sql<number>`coalesce(sum(${binaryUploads.sizeBytes}), 0)`.mapWith(Number) })
      .from(binaryUploads)
      .where(and(eq(binaryUploads.accountId, accountId), sql`${binaryUploads.completedAt} is null`, sql`${binaryUploads.expiresAt} > ${now.getTime()}`))
      .limit(1))[0];
    return row?.bytes ?? 0;
  }

  /**
   * R18: the PUT of a streamed upload. Streams to disk while hashing, holds the declared size and
   * the server's maximum, and keeps the file only when every declared byte arrived.
   */
  async receiveUpload(principal: Principal, token: string, body: Readable, contentLength: number | null): Promise<UploadReceipt> {
    const upload = (await this.db.select().from(binaryUploads).where(eq(binaryUploads.tokenSha256, sha256Hex(token))).limit(1))[0];
    // R71: another account's upload is one that does not exist; a role that may not upload is refused.
    if (!upload || upload.accountId !== principal.accountId) return refused('NOT_FOUND', 'No upload at this URL');
    // The URL is a secret, but one a VIEWER got hold of still uploads nothing.
    const forbidden = denial(principal, 'manageBinaries');
    if (forbidden) return refused('FORBIDDEN', forbidden.message);
    if (upload.completedAt) return refused('ALREADY_USED', 'This upload URL has been used');
    if (this.receiving.has(upload.id)) return refused('IN_PROGRESS', 'This upload is already being received');
    if (upload.expiresAt.getTime() <= Date.now()) return refused('EXPIRED', 'This upload URL has expired');
    if (contentLength !== null && contentLength > upload.sizeBytes)
      return refused('TOO_LARGE', `This upload was declared as ${upload.sizeBytes} bytes`);

    this.receiving.set(upload.id, 0);
    let temp: StoredTemp;
    try {
      temp = await this.store.writeTemp(body, upload.sizeBytes, (bytes) => this.receiving.set(upload.id, bytes));
    } catch (error) {
      if (error instanceof TooLargeError) return refused('TOO_LARGE', `This upload was declared as ${upload.sizeBytes} bytes`);
      return { outcome: 'ABORTED' };
    } finally {
      this.receiving.delete(upload.id);
    }
    if (temp.sizeBytes !== upload.sizeBytes) {
      await this.store.discard(temp);
      return refused('INCOMPLETE', `Received ${temp.sizeBytes} of the ${upload.sizeBytes} declared bytes`);
    }
    this.store.commit(temp);
    // `receiving` knows this instance's PUTs only: one of two PUTs sent to different instances
    // (R58), or one that outlived its URL while another instance dropped it, completes nothing.
    // An uncompleted upload's file left committed is removed by the sweep of unrecorded blobs.
    const completed = await this.db
      .transaction(async (tx) => {
        await tx.insert(blobs).values({ sha256: temp.sha256, sizeBytes: temp.sizeBytes }).onConflictDoNothing();
        const updated = await tx.update(binaryUploads)
          .set({ sha256: temp.sha256, receivedBytes: temp.sizeBytes, completedAt: new Date() })
          .where(and(eq(binaryUploads.id, upload.id), isNull(binaryUploads.completedAt)))
          .returning({ id: binaryUploads.id });
        // Thrown to undo the blob's row as well.
        if (updated.length === 0) throw new UploadTaken();
        return true;
      })
      .catch((error: unknown) => {
        if (error instanceof UploadTaken) return false;
        throw error;
      });
    if (!completed) {
      const still = (await this.db.select({ id: binaryUploads.id }).from(binaryUploads).where(eq(binaryUploads.id, upload.id)).limit(1))[0];
      return still ? refused('ALREADY_USED', 'This upload URL has been used') : refused('EXPIRED', 'This upload URL has expired');
    }
    return { outcome: 'STORED', sha256: temp.sha256, sizeBytes: temp.sizeBytes };
  }

  /** R18: turns a completed streamed upload into a client binary; an upload is used once. */
  async addFromUpload(
    principal: Principal,
    input: { uploadId: number | null; version?: string | null; description?: string | null },
  ): Promise<Result<ClientBinary>> {
    const forbidden = denial(principal, 'manageBinaries');
    if (forbidden) return fail(forbidden);
    const [upload] = input.uploadId === null ? [null] : await this.uploadsByIds(principal, [input.uploadId]);
    if (!upload) return fail(notFound('upload', ['input', 'uploadId']));
    if (upload.usedAt) return fail(userError('INVALID_INPUT', 'This upload has already been added as a binary', ['input', 'uploadId']));
    if (!upload.completedAt || !upload.sha256) {
      if (upload.expiresAt.getTime() <= Date.now())
        return fail(userError('UPLOAD_EXPIRED', 'The upload URL expired before the file arrived; start a new upload', ['input', 'uploadId']));
      return fail(userError('UPLOAD_INCOMPLETE', 'The file has not been uploaded completely yet', ['input', 'uploadId']));
    }
    const newBinary: NewBinary = { appId: upload.appId, platform: upload.platform, version: input.version ?? null, description: input.description ?? null };
    const early = await this.checkNewBinary(principal, newBinary, upload.fileName, ['input', 'uploadId']);
    if (!early.ok) return early;
    const stored: StoredTemp = { path: this.store.pathOf(upload.sha256), sha256: upload.sha256, sizeBytes: upload.sizeBytes };
    return this.register(principal, newBinary, early.value, upload.fileName, stored, upload.id);
  }

  async update(principal: Principal, input: { id: number | null; description?: string | null }): Promise<Result<ClientBinary>> {
    const forbidden = denial(principal, 'manageBinaries');
    if (forbidden) return fail(forbidden);
    const [binary] = input.id === null ? [null] : await this.byIds(principal, [input.id]);
    if (!binary) return fail(notFound('client binary', ['input', 'id']));
    const problem = checkDescription(input.description, ['input', 'description']);
    if (problem) return fail(problem);
    if (input.description === undefined) return ok(binary);
    return ok(oneRow(await this.db.update(clientBinaries).set({ description: input.description }).where(eq(clientBinaries.id, binary.id)).returning()));
  }

  /** R20: refused while a Management runtime serves the binary. */
  async delete(principal: Principal, id: number | null): Promise<Result<number>> {
    const forbidden = denial(principal, 'manageBinaries');
    if (forbidden) return fail(forbidden);
    const [binary] = id === null ? [null] : await this.byIds(principal, [id]);
    if (!binary) return fail(notFound('client binary', ['input', 'id']));
    const servedIn = await this.servedBy(principal, binary.id);
    if (servedIn.length > 0)
      return fail(
        userError(
          'INVALID_INPUT',
          `Version ${binary.version} is still served by the Management runtime of ${servedIn.join(', ')}; remove it there first`,
          ['input', 'id'],
        ),
      );
    const unreferenced = await this.db.transaction(async (tx) => {
      await tx.delete(clientBinaries).where(eq(clientBinaries.id, binary.id));
      return releaseBlob(tx, binary.sha256);
    });
    if (unreferenced) this.store.remove(binary.sha256);
    return ok(binary.id);
  }

  /** Drops uploads whose URL expired without being used, and their files when nothing else holds them. */
  async sweepExpiredUploads(now = new Date()): Promise<number> {
    const expired = and(sql`${binaryUploads.usedAt} is null`, sql`${binaryUploads.expiresAt} <= ${now.getTime()}`);
    const candidates = await this.db.select().from(binaryUploads).where(expired);
    let dropped = 0;
    for (const upload of candidates) {
      // Asked again at each one: a PUT may have begun, or the upload been used, since the read.
      if (this.receiving.has(upload.id)) continue;
      const outcome = await this.db.transaction(async (tx) => {
        const deleted = await tx.delete(binaryUploads).where(and(eq(binaryUploads.id, upload.id), expired)).returning({ id: binaryUploads.id });
        if (deleted.length === 0) return { deleted: false, unreferenced: false };
        return { deleted: true, unreferenced: upload.sha256 ? await releaseBlob(tx, upload.sha256) : false };
      });
      if (outcome.deleted) dropped += 1;
      if (outcome.unreferenced && upload.sha256) this.store.remove(upload.sha256);
    }
    return dropped;
  }

  /** Removes blobs nothing refers to any more, such as the wrapped artifacts of a rolled-back job. */
  async sweepOrphanBlobs(): Promise<number> {
    const orphans = await this.db
      .select({ sha256: blobs.sha256 })
      .from(blobs)
      .where(
        and(
          notExists(this.db.select({ id: clientBinaries.id }).from(clientBinaries).where(eq(clientBinaries.sha256, blobs.sha256))),
          notExists(this.db.select({ id: binaryUploads.id }).from(binaryUploads).where(eq(binaryUploads.sha256, blobs.sha256))),
        ),
      );
    for (const { sha256 } of orphans) {
      if (await this.db.transaction((tx) => releaseBlob(tx, sha256))) this.store.remove(sha256);
    }
    // Files without a row: removals the grace period put off, or a crash between commit and row.
    if (this.store.walkDue()) this.store.sweepUnrecorded(new Set((await this.db.select({ sha256: blobs.sha256 }).from(blobs)).map((row) => row.sha256)));
    return orphans.length;
  }

  private async appOf(principal: Principal, appId: number | null) {
    if (appId === null) return undefined;
    return (await this.db
      .select({ id: apps.id })
      .from(apps)
      .where(and(eq(apps.accountId, principal.accountId), eq(apps.id, appId)))
      .limit(1))[0];
  }

  /** Checks what can be checked before reading the file; answers the app id. */
  private async checkNewBinary(principal: Principal, input: NewBinary, fileName: string, fileField: string[]): Promise<Result<number>> {
    const app = await this.appOf(principal, input.appId);
    if (!app) return fail(notFound('app', ['input', 'appId']));
    const problems = [
      checkDescription(input.description, ['input', 'description']),
      checkFileName(fileName, fileField),
      checkExtension(input.platform, fileName, fileField, true),
    ].filter((p) => p !== null);
    if (input.version != null && !isVersion(input.version))
      problems.push(
        userError('INVALID_VERSION', 'A version is 1 to 3 dot-separated numbers without leading zeros, such as 1.23.4', ['input', 'version']),
      );
    return problems.length > 0 ? fail(...problems) : ok(app.id);
  }

  /**
   * Validates the file by content (R14), settles the version (R15, R16) and registers the binary.
   * `stored` is a temporary file (multipart) or an uploaded blob (streamed upload).
   */
  private async register(
    principal: Principal,
    input: NewBinary,
    appId: number,
    fileName: string,
    stored: StoredTemp,
    uploadId: number | null,
  ): Promise<Result<ClientBinary>> {
    const isTemp = uploadId === null;
    const refuse = async (problem: UserError) => {
      if (isTemp) await this.store.discard(stored);
      return fail(problem);
    };
    const fileField = isTemp ? ['input', 'file'] : ['input', 'uploadId'];
    const inspection = await this.inspector.inspect(stored.path);
    const expected = platformRules[input.platform].kind;
    // A file named for another kind of platform: a mismatch if its content agrees, else a wrong name.
    if (kindByName(fileName) !== expected)
      return refuse(
        inspection.ok && inspection.identity.kind !== expected ? mismatch(input.platform, inspection.identity.kind, fileField) : wrongName(input.platform, fileField),
      );
    if (!inspection.ok) return refuse(userError('INVALID_BINARY', inspection.reason, fileField));
    const { identity } = inspection;
    if (identity.kind !== expected) return refuse(mismatch(input.platform, identity.kind, fileField));

    const stated = statedVersion(identity.version);
    if (input.version != null && identity.version !== null && (stated === null || compareVersions(stated, input.version) !== 0))
      return refuse(userError('INVALID_VERSION', `The binary says its version is ${identity.version}, not ${input.version}`, ['input', 'version']));
    const version = input.version ?? stated;
    if (version === null)
      return refuse(
        userError(
          'INVALID_VERSION',
          identity.version === null
            ? 'The binary does not state its version; give one'
            : `The binary's version ${identity.version} is not 1 to 3 dot-separated numbers; give one`,
          ['input', 'version'],
        ),
      );

    const key = versionKey(version);
    const duplicate = userError('DUPLICATE_VERSION', `Version ${version} of ${input.platform} already exists for this app`, ['input', 'version']);
    if (isTemp) this.store.commit(stored);
    let binary: ClientBinary;
    try {
      binary = await this.db.transaction(async (tx) => {
        if (input.platform === 'WEB' && (await countRows(tx, clientBinaries, and(eq(clientBinaries.appId, appId), eq(clientBinaries.platform, 'WEB')))) >= MAX_WEB_BINARIES)
          throw new LimitReached();
        await tx.insert(blobs).values({ sha256: stored.sha256, sizeBytes: stored.sizeBytes }).onConflictDoNothing();
        const created = oneRow(await tx
          .insert(clientBinaries)
          .values({
            accountId: principal.accountId,
            appId,
            platform: input.platform,
            version,
            versionKey: key,
            listKey: listKey(input.platform, version),
            description: input.description ?? null,
            fileName,
            sizeBytes: stored.sizeBytes,
            sha256: stored.sha256,
            bundleId: identity.bundleId?.slice(0, MAX_NAME_LENGTH) ?? null,
            uploadedBy: principal.userId,
          })
          .returning());
        if (uploadId !== null)
          await tx.update(binaryUploads).set({ usedAt: new Date(), clientBinaryId: created.id }).where(eq(binaryUploads.id, uploadId));
        return created;
      });
    } catch (error) {
      if (!(error instanceof LimitReached) && !isUniqueViolation(error, 'client_binaries_app_platform_version_unique')) throw error;
      if (isTemp && await this.db.transaction((tx) => releaseBlob(tx, stored.sha256))) this.store.remove(stored.sha256);
      if (error instanceof LimitReached)
        return fail(userError('LIMIT_EXCEEDED', `An app keeps at most ${MAX_WEB_BINARIES} web client binaries; delete one first`, ['input', 'platform']));
      return fail(duplicate);
    }
    return ok(binary);
  }
}

class LimitReached extends Error {}
