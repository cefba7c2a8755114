import { eq } from 'drizzle-orm';
import { countRows, type Db } from '../../db/client.js';
import { binaryUploads, blobs, clientBinaries } from '../../db/schema.js';

/**
 * Forgets a blob that no binary or upload refers to any more (a runtime keeps its own files), inside the
 * caller's transaction; answers whether its file can be removed once that transaction is done.
 */
export function releaseBlob(tx: Pick<Db, 'select' | 'delete'>, sha256: string): boolean {
  const held =
    countRows(tx, clientBinaries, eq(clientBinaries.sha256, sha256)) > 0 ||
    countRows(tx, binaryUploads, eq(binaryUploads.sha256, sha256)) > 0;
  if (held) return false;
  tx.delete(blobs).where(eq(blobs.sha256, sha256)).run();
  return true;
}
