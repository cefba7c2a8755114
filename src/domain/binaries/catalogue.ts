import { and, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { countRows, isUniqueViolation, oneRow, type Db } from '../../db/client.js';
import { binaryUploads, blobs, clientBinaries } from '../../db/schema.js';
import { denial } from '../policy.js';
import { chooseOrder, keysetPage, tableSource, type KeysetOrder, type OrderBy, type Page, type PageArgs } from '../pagination.js';
import type { Principal } from '../principal.js';
import { fail, notFound, ok, userError, type Result, type UserError } from '../result.js';
import { inIdOrder } from '../rows.js';
import { checkDescription, compareVersions, isVersion, MAX_NAME_LENGTH } from '../validation.js';
import { releaseBlob } from './blob-collection.js';
import { TooLargeError, type BlobStore, type StoredTemp } from './blob-store.js';
import { accountApp, checkExtension, checkFileName, kindByName, mismatch, wrongName } from './file-checks.js';
import type { ArchiveInspector } from './inspector.js';
import { platformRules, type ClientPlatform } from './platforms.js';
import type { StreamedUploads, UploadLimits } from './uploads.js';
import { listKey, statedVersion, versionKey } from './versions.js';

export type ClientBinary = typeof clientBinaries.$inferSelect;

/** R16: an app keeps at most this many web client binaries. */
export const MAX_WEB_BINARIES = 10;

export interface BinaryLimits extends UploadLimits {
  /** Bytes of one file sent in a GraphQL multipart request at most (R19). */
  maxMultipartBytes: number;
}

export interface NewBinary {
  appId: number | null;
  platform: ClientPlatform;
  version?: string | null;
  description?: string | null;
}

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

/** The binary catalogue: an app's client binaries, added (R14–R16, R18, R19), edited and deleted (R20). */
export class BinaryCatalogue {
  private servedBy: ServedByCheck = async () => [];

  constructor(
    private readonly db: Db,
    private readonly store: BlobStore,
    private readonly limits: BinaryLimits,
    /** Reads the files in worker threads (R68); the main thread never parses them. */
    private readonly inspector: ArchiveInspector,
    private readonly uploads: StreamedUploads,
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

  /** R18: turns a completed streamed upload into a client binary; an upload is used once. */
  async addFromUpload(
    principal: Principal,
    input: { uploadId: number | null; version?: string | null; description?: string | null },
  ): Promise<Result<ClientBinary>> {
    const forbidden = denial(principal, 'manageBinaries');
    if (forbidden) return fail(forbidden);
    const [upload] = input.uploadId === null ? [null] : await this.uploads.byIds(principal, [input.uploadId]);
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

  /** Checks what can be checked before reading the file; answers the app id. */
  private async checkNewBinary(principal: Principal, input: NewBinary, fileName: string, fileField: string[]): Promise<Result<number>> {
    const app = await accountApp(this.db, principal, input.appId);
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
