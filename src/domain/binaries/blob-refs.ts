import { eq } from 'drizzle-orm';
import { countRows, type Db } from '../../db/client.js';
import { binaryUploads, blobs, clientBinaries } from '../../db/schema.js';

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
