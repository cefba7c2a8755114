import { and, eq, notExists } from 'drizzle-orm';
import { countRows, type Db } from '../../db/client.js';
import { binaryUploads, blobs, clientBinaries } from '../../db/schema.js';
import type { BlobStore } from './blob-store.js';

/**
 * Forgets a blob that no binary or upload refers to any more (a runtime keeps its own files), inside the
 * caller's transaction; answers whether its file can be removed once that transaction is done.
 */
export async function releaseBlob(tx: Pick<Db, 'select' | 'delete'>, sha256: string): Promise<boolean> {
  const held =
    (await countRows(tx, clientBinaries, eq(clientBinaries.sha256, sha256))) > 0 ||
    (await countRows(tx, binaryUploads, eq(binaryUploads.sha256, sha256))) > 0;
  if (held) return false;
  await tx.delete(blobs).where(eq(blobs.sha256, sha256));
  return true;
}

/**
 * Blob collection: the files of blobs nothing refers to any more are removed, and files that never
 * got a row (or whose removal the grace period put off) are swept.
 */
export class BlobCollector {
  constructor(
    private readonly db: Db,
    private readonly store: BlobStore,
  ) {}

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
}
