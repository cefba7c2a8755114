import { and, eq, inArray, notExists, sql } from 'drizzle-orm';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BlobStore } from '../../domain/binaries/blob-store.js';
import { RuntimeRefusedError } from '../errors.js';
import { liveWebClients, managementVersions, runtimeBlobs, runtimeRestorePoints } from '../schema.js';
import type { RuntimeDb } from './db.js';

/** What a runtime accepts per file; a native binary is far smaller. */
export const MAX_BLOB_BYTES = 8 * 1024 ** 3;

/**
 * The runtime's files (R48): content-addressed, written while hashed, kept only when the SHA-256
 * is the one announced. A file stays while a version or web client refers to it, or an open
 * restore point holds it.
 */
export class RuntimeBlobs {
  private readonly store: BlobStore;

  constructor(
    private readonly db: RuntimeDb,
    dataDir: string,
    shared = false,
  ) {
    // Shared, the store keeps another writer's temporary files and fresh blobs (BlobStore's grace).
    this.store = new BlobStore(dataDir, shared ? { blobDir: join(dataDir, 'blobs') } : {});
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.db.select({ sha256: runtimeBlobs.sha256 }).from(runtimeBlobs).where(eq(runtimeBlobs.sha256, sha256)).limit(1))[0] !== undefined && existsSync(this.store.pathOf(sha256));
  }

  pathOf(sha256: string): string {
    return this.store.pathOf(sha256);
  }

  /** Receives a file, verifies it and records it, held by the restore point when one is named. */
  async put(sha256: string, source: AsyncIterable<Uint8Array>, restorePoint: string | null): Promise<void> {
    const temp = await this.store.writeTemp(source, MAX_BLOB_BYTES);
    if (temp.sha256 !== sha256) {
      await this.store.discard(temp);
      throw new RuntimeRefusedError('SHA256_MISMATCH', `the file's SHA-256 is ${temp.sha256}, not ${sha256}`);
    }
    this.store.commit(temp);
    await this.db.transaction(async (tx) => {
      await tx.insert(runtimeBlobs).values({ sha256, sizeBytes: temp.sizeBytes, receivedAt: new Date() }).onConflictDoNothing();
      if (!restorePoint) return;
      // Read, add, write back: inside the transaction no other change of the point falls in between.
      const [point] = await tx.select({ held: runtimeRestorePoints.held }).from(runtimeRestorePoints).where(eq(runtimeRestorePoints.key, restorePoint));
      if (!point) return;
      const held = JSON.parse(point.held) as string[];
      await tx
        .update(runtimeRestorePoints)
        .set({ held: JSON.stringify([...held, sha256]) })
        .where(eq(runtimeRestorePoints.key, restorePoint));
    });
  }

  /** Removes files nothing refers to and no open restore point holds. */
  async sweep(): Promise<number> {
    // One transaction from reading to deleting: a blob taken up in between (by a publish or a
    // restore point) must not be deleted; files go only once the rows are gone.
    const orphans = await this.db.transaction(async (tx) => {
      const unreferenced = await tx
        .select({ sha256: runtimeBlobs.sha256 })
        .from(runtimeBlobs)
        .where(
          and(
            notExists(tx.select({ one: sql`1` }).from(managementVersions).where(eq(managementVersions.artifactSha256, runtimeBlobs.sha256))),
            notExists(tx.select({ one: sql`1` }).from(liveWebClients).where(eq(liveWebClients.artifactSha256, runtimeBlobs.sha256))),
          ),
        );
      // Restore points keep their blobs as a JSON list, read here rather than by SQL JSON functions
      // that differ between dialects; open restore points are few.
      const points = await tx.select({ held: runtimeRestorePoints.held }).from(runtimeRestorePoints);
      const held = new Set(points.flatMap((point) => JSON.parse(point.held) as string[]));
      const found = unreferenced.filter((blob) => !held.has(blob.sha256)).map((blob) => blob.sha256);
      if (found.length > 0) await tx.delete(runtimeBlobs).where(inArray(runtimeBlobs.sha256, found));
      return found;
    });
    for (const sha256 of orphans) this.store.remove(sha256);
    // A file whose removal the grace period put off (a shared directory) has no row left to find
    // it by: now and then, files no row records and untouched for long go too.
    if (this.store.walkDue()) {
      const known = await this.db.select({ sha256: runtimeBlobs.sha256 }).from(runtimeBlobs);
      this.store.sweepUnrecorded(new Set(known.map((row) => row.sha256)));
    }
    return orphans.length;
  }
}
