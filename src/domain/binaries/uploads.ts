import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import { lockForUpdate, oneRow, type Db } from '../../db/client.js';
import { accounts, binaryUploads, blobs } from '../../db/schema.js';
import { denial } from '../policy.js';
import type { Principal } from '../principal.js';
import { fail, notFound, ok, userError, type Result } from '../result.js';
import { inIdOrder } from '../rows.js';
import { sha256Hex } from '../tokens.js';
import { releaseBlob } from './blob-collection.js';
import { TooLargeError, type BlobStore, type StoredTemp } from './blob-store.js';
import { accountApp, checkExtension, checkFileName } from './file-checks.js';
import type { ClientPlatform } from './platforms.js';

export type BinaryUpload = typeof binaryUploads.$inferSelect;

/** R18: an upload URL is valid this long. */
export const UPLOAD_TTL_MS = 60 * 60 * 1000;

export interface UploadLimits {
  /** Declared bytes of one streamed upload at most. */
  maxUploadBytes: number;
  /** Declared bytes of streamed uploads an account may have outstanding at once (R69). */
  uploadQuotaBytes: number;
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

/** Another PUT completed the upload first, or it was dropped meanwhile. */
class UploadTaken extends Error {}

/**
 * The streamed-upload protocol (R18): an upload URL is created within the account's quota (R69),
 * receives its bytes once by PUT, and is dropped when it expires unused. Turning a completed upload
 * into a binary is the catalogue's (`BinaryCatalogue.addFromUpload`).
 */
export class StreamedUploads {
  /** Bytes received so far by PUTs under way, by upload id; they are written to the row at the end. */
  private readonly receiving = new Map<number, number>();

  constructor(
    private readonly db: Db,
    private readonly store: BlobStore,
    private readonly limits: UploadLimits,
  ) {}

  async byIds(principal: Principal, ids: readonly number[]): Promise<(BinaryUpload | null)[]> {
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


  async create(
    principal: Principal,
    input: { appId: number | null; platform: ClientPlatform; fileName: string; sizeBytes: number },
  ): Promise<Result<{ upload: BinaryUpload; token: string }>> {
    const forbidden = denial(principal, 'manageBinaries');
    if (forbidden) return fail(forbidden);
    const app = await accountApp(this.db, principal, input.appId);
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
  async receive(principal: Principal, token: string, body: Readable, contentLength: number | null): Promise<UploadReceipt> {
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

  /** Drops uploads whose URL expired without being used, and their files when nothing else holds them. */
  async sweepExpired(now = new Date()): Promise<number> {
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

}
