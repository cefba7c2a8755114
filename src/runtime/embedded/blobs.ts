import { sql } from 'drizzle-orm';
import { eq } from 'drizzle-orm';
import { existsSync } from 'node:fs';
import { BlobStore } from '../../domain/binaries/blob-store.js';
import { RuntimeRefusedError } from '../errors.js';
import { runtimeBlobs, runtimeRestorePoints } from '../schema.js';
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
  ) {
    this.store = new BlobStore(dataDir);
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
      if (restorePoint)
        await tx.update(runtimeRestorePoints)
          .set({ held: sql`json_insert(${runtimeRestorePoints.held}, '$[#]', ${sha256})` })
          .where(eq(runtimeRestorePoints.key, restorePoint));
    });
  }

  /** Removes files nothing refers to and no open restore point holds. */
  async sweep(): Promise<number> {
    const orphans = this.db.all<{ sha256: string }>(sql`
      select sha256 from runtime_blobs b
      where not exists (select 1 from management_versions v where v.artifact_sha256 = b.sha256)
        and not exists (select 1 from live_web_clients w where w.artifact_sha256 = b.sha256)
        and not exists (select 1 from runtime_restore_points p, json_each(p.held) h where h.value = b.sha256)`);
    for (const { sha256 } of orphans) {
      await this.db.delete(runtimeBlobs).where(eq(runtimeBlobs.sha256, sha256));
      this.store.remove(sha256);
    }
    return orphans.length;
  }
}
